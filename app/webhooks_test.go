package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

// fakeResolver answers each name from a table; other names do not resolve.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

var resolver = fakeResolver{
	"hooks.example.com":    {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:2800:220:1:248:1893:25c8:1946")},
	"internal.example.com": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.7")},
	"rebind.example.com":   {netip.MustParseAddr("127.0.0.1")},
}

// newWebhooks builds the webhook use cases on store (a new one if nil).
func newWebhooks(tb testing.TB, store *memory.UserStore, box ports.SecretBox, allowPrivate bool) *app.Webhooks {
	tb.Helper()
	if store == nil {
		store = memory.NewUserStore()
	}
	if box == nil {
		box = testBox(tb)
	}
	w, err := app.NewWebhooks(app.WebhookDeps{
		Store: store, SecretBox: box, Resolver: resolver, Clock: newClock(), IDs: &portmock.IDsMock{NewIDFunc: func() string {
			return uuid.NewString()
		}}, Random: rand.Reader,
	}, app.WebhookConfig{AllowPrivate: allowPrivate})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func TestNewWebhooksNeedsEveryDependency(t *testing.T) {
	t.Parallel()
	if _, err := app.NewWebhooks(app.WebhookDeps{}, app.WebhookConfig{}); err == nil {
		t.Error("NewWebhooks without dependencies succeeded")
	}
}

func TestCreateWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box := testBox(t)
	store := memory.NewUserStore()
	w := newWebhooks(t, store, box, true)
	created, err := w.CreateWebhook(ctx, adminActor, app.NewWebhookInput{
		URL: " http://127.0.0.1:9999/hook ", Events: []string{"user.created", "user.deleted", "user.created"},
	})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	key, ok := strings.CutPrefix(created.Secret, "whsec_")
	raw, err := base64.StdEncoding.DecodeString(key)
	if !ok || err != nil || len(raw) != 32 {
		t.Errorf("secret %q is not whsec_ + base64 of 32 bytes", created.Secret)
	}
	if created.Webhook.URL != "http://127.0.0.1:9999/hook" || created.Webhook.CreatedAt != t0 {
		t.Errorf("created %+v", created.Webhook)
	}
	if diff := cmp.Diff([]domain.WebhookEventType{domain.WebhookUserCreated, domain.WebhookUserDeleted}, created.Webhook.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// Kept sealed, bound to the endpoint; never the secret itself.
	hooks, err := w.ListWebhooks(ctx, adminActor)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("ListWebhooks = %+v, %v", hooks, err)
	}
	if strings.Contains(hooks[0].SealedSecret, key) || hooks[0].SealedSecret == "" {
		t.Errorf("the stored secret %q is not sealed", hooks[0].SealedSecret)
	}
	opened, err := box.Open(hooks[0].SealedSecret, domain.WebhookSecretLabel(hooks[0].ID))
	if err != nil || string(opened) != string(raw) {
		t.Errorf("the sealed secret opens to %x, %v; want the key", opened, err)
	}
	if _, err := box.Open(hooks[0].SealedSecret, domain.WebhookSecretLabel(uuid.NewString())); err == nil {
		t.Error("the sealed secret opens under another endpoint's label")
	}

	// Every event, and "*" swallowing the rest.
	all, err := w.CreateWebhook(ctx, adminActor, app.NewWebhookInput{URL: "https://hooks.example.com/", Events: []string{"user.locked", "*"}})
	if err != nil || len(all.Webhook.Events) != 1 || all.Webhook.Events[0] != domain.WebhookAllEvents {
		t.Errorf("events [user.locked *] = %+v, %v; want [*]", all.Webhook.Events, err)
	}
	if all.Secret == created.Secret {
		t.Error("two endpoints got the same secret")
	}
}

func TestCreateWebhookRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dev, prod := newWebhooks(t, nil, nil, true), newWebhooks(t, nil, nil, false)
	manager := domain.Actor{ID: "m", Role: domain.RoleManager}
	for _, actor := range []domain.Actor{manager, nobodyActor} {
		// Forbidden before the input is even looked at.
		_, err := dev.CreateWebhook(ctx, actor, app.NewWebhookInput{URL: "nonsense"})
		wantErr(t, err, domain.ErrNotPermitted)
	}
	for _, tc := range []struct {
		name string
		w    *app.Webhooks
		in   app.NewWebhookInput
		want []domain.FieldError
	}{
		{"no url, no events", dev, app.NewWebhookInput{}, []domain.FieldError{
			{Field: "url", Code: domain.CodeRequired}, {Field: "events", Code: domain.CodeRequired},
		}},
		{"not a url", dev, app.NewWebhookInput{URL: "hooks", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotAbsolute},
		}},
		{"no events", dev, app.NewWebhookInput{URL: "https://hooks.example.com", Events: []string{}}, []domain.FieldError{
			{Field: "events", Code: app.CodeNoWebhookEvents},
		}},
		{"an unknown event", dev, app.NewWebhookInput{URL: "https://hooks.example.com", Events: []string{"user.created", "user.exploded"}}, []domain.FieldError{
			{Field: "events", Code: domain.CodeNotOneOf, Got: "user.exploded", Values: append(eventNames(), "*")},
		}},
		{"http in production", prod, app.NewWebhookInput{URL: "http://hooks.example.com", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotHTTPS},
		}},
		{"loopback in production", prod, app.NewWebhookInput{URL: "https://127.0.0.1:8443/hook", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotPublic},
		}},
		{"metadata in production", prod, app.NewWebhookInput{URL: "https://169.254.169.254/latest", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotPublic},
		}},
		{"localhost in production", prod, app.NewWebhookInput{URL: "https://localhost/hook", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotPublic},
		}},
		{"a name resolving to a private address", prod, app.NewWebhookInput{URL: "https://internal.example.com/hook", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotPublic},
		}},
		{"a name resolving to loopback", prod, app.NewWebhookInput{URL: "https://rebind.example.com/hook", Events: []string{"*"}}, []domain.FieldError{
			{Field: "url", Code: domain.CodeURLNotPublic},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.w.CreateWebhook(ctx, adminActor, tc.in)
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error = %v, want a validation error", err)
			}
			if diff := cmp.Diff(tc.want, ve.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	// Production accepts https to public addresses, and names that
	// resolve to them or not at all (each connection checks again).
	for _, u := range []string{"https://hooks.example.com/hook", "https://93.184.216.34/", "https://unresolvable.example.org/"} {
		if _, err := prod.CreateWebhook(ctx, adminActor, app.NewWebhookInput{URL: u, Events: []string{"*"}}); err != nil {
			t.Errorf("production refused %s: %v", u, err)
		}
	}
	// Development accepts private addresses over http.
	if _, err := dev.CreateWebhook(ctx, adminActor, app.NewWebhookInput{URL: "http://localhost:8080/hook", Events: []string{"*"}}); err != nil {
		t.Errorf("development refused a loopback receiver: %v", err)
	}
}

func eventNames() []string {
	var out []string
	for _, e := range domain.WebhookEventTypes() {
		out = append(out, string(e))
	}
	return out
}

func TestDeleteAndListWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWebhooks(t, nil, nil, true)
	manager := domain.Actor{ID: "m", Role: domain.RoleManager}
	a, err := w.CreateWebhook(ctx, adminActor, app.NewWebhookInput{URL: "http://127.0.0.1/a", Events: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.ListWebhooks(ctx, manager)
	wantErr(t, err, domain.ErrNotPermitted)
	wantErr(t, w.DeleteWebhook(ctx, manager, a.Webhook.ID), domain.ErrNotPermitted)
	_, err = w.ListDeliveries(ctx, manager, a.Webhook.ID, 0)
	wantErr(t, err, domain.ErrNotPermitted)

	if got, err := w.ListDeliveries(ctx, adminActor, strings.ToUpper(a.Webhook.ID), 0); err != nil || len(got) != 0 {
		t.Errorf("ListDeliveries of a new endpoint = %+v, %v", got, err)
	}
	for _, limit := range []int{-1, app.MaxDeliveries + 1} {
		_, err := w.ListDeliveries(ctx, adminActor, a.Webhook.ID, limit)
		wantInvalid(t, err, "limit")
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		wantErr(t, w.DeleteWebhook(ctx, adminActor, id), domain.ErrWebhookNotFound)
		_, err := w.ListDeliveries(ctx, adminActor, id, 0)
		wantErr(t, err, domain.ErrWebhookNotFound)
	}
	wantErr(t, w.DeleteWebhook(ctx, adminActor, a.Webhook.ID), nil)
	wantErr(t, w.DeleteWebhook(ctx, adminActor, a.Webhook.ID), domain.ErrWebhookNotFound)
	if hooks, err := w.ListWebhooks(ctx, adminActor); err != nil || len(hooks) != 0 {
		t.Errorf("after deleting, ListWebhooks = %+v, %v", hooks, err)
	}
}

// TestEveryChangeOwesItsWebhook drives each use case that changes a user
// and checks the webhook event it owes, as delivered: the type, and the
// user as the change left it.
func TestEveryChangeOwesItsWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	w := newWebhooks(t, e.mem, nil, true)
	if _, err := w.CreateWebhook(ctx, adminActor, app.NewWebhookInput{URL: "http://127.0.0.1/all", Events: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	// take claims everything due and returns the types and user ids.
	type seen struct {
		typ  domain.WebhookEventType
		user string
	}
	take := func() []seen {
		ds, err := e.mem.ClaimDeliveries(ctx, e.clock.Now(), 1000, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var out []seen
		last := map[string]domain.WebhookEvent{} // the latest event of each user
		for _, d := range ds {
			out = append(out, seen{d.Event.Type, d.Event.User.ID})
			last[d.Event.User.ID] = d.Event
		}
		for id, ev := range last {
			if cur, err := e.mem.UserByID(ctx, id); err == nil && ev.User != cur.Snapshot() {
				t.Errorf("%s: the event's user %+v is not the user as the change left it %+v", ev.Type, ev.User, cur.Snapshot())
			}
		}
		return out
	}
	expect := func(what string, want ...seen) {
		t.Helper()
		if diff := cmp.Diff(want, take(), cmp.AllowUnexported(seen{})); diff != "" {
			t.Errorf("%s: webhook events (-want +got):\n%s", what, diff)
		}
	}
	admin := e.admin(t, "root@example.com")
	expect("bootstrap admin", seen{domain.WebhookUserCreated, admin.ID})

	u := e.register(t, "alice@example.com")
	expect("register", seen{domain.WebhookUserCreated, u.ID()})
	id, token := e.linkFor(t, "alice@example.com")
	wantErr(t, e.svc.VerifyEmail(ctx, id, token), nil)
	expect("verify", seen{domain.WebhookUserVerified, u.ID()})

	staffMade, err := e.svc.CreateUser(ctx, admin, app.NewUserInput{Email: "bob@example.com", Password: goodPass})
	wantErr(t, err, nil)
	expect("staff create", seen{domain.WebhookUserCreated, staffMade.ID()})

	_, err = e.svc.UpdateUser(ctx, admin, u.ID(), app.UpdateUserInput{Profile: domain.ProfilePatch{Bio: ptr("hi")}})
	wantErr(t, err, nil)
	expect("staff update", seen{domain.WebhookUserUpdated, u.ID()})
	_, err = e.svc.UpdateMe(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleAuthenticated}, app.UpdateMeInput{Profile: domain.ProfilePatch{FirstName: ptr("Alice")}})
	wantErr(t, err, nil)
	expect("own update", seen{domain.WebhookUserUpdated, u.ID()})

	_, err = e.svc.ChangeRole(ctx, admin, u.ID(), domain.RoleManager)
	wantErr(t, err, nil)
	expect("role change", seen{domain.WebhookUserRoleChanged, u.ID()})
	_, err = e.svc.UpdateUser(ctx, admin, u.ID(), app.UpdateUserInput{Role: &domain.RoleAuthenticated, Nickname: ptr("alice_again")})
	wantErr(t, err, nil)
	expect("role change with an update", seen{domain.WebhookUserRoleChanged, u.ID()}, seen{domain.WebhookUserUpdated, u.ID()})

	_, err = e.svc.UpgradeToProfessional(ctx, admin, u.ID())
	wantErr(t, err, nil)
	expect("upgrade", seen{domain.WebhookUserProfessional, u.ID()})
	_, err = e.svc.UpgradeToProfessional(ctx, admin, u.ID())
	wantErr(t, err, nil)
	expect("a second upgrade changes nothing")

	_, err = e.svc.Lock(ctx, admin, u.ID())
	wantErr(t, err, nil)
	expect("staff lock", seen{domain.WebhookUserLocked, u.ID()})
	_, err = e.svc.Unlock(ctx, admin, u.ID())
	wantErr(t, err, nil)
	expect("staff unlock", seen{domain.WebhookUserUnlocked, u.ID()})

	lockAccount(t, e, "alice@example.com")
	expect("lock by wrong passwords", seen{domain.WebhookUserLocked, u.ID()})
	wantErr(t, e.svc.UnlockWithToken(ctx, e.unlockSecret(t, "alice@example.com")), nil)
	expect("unlock by link", seen{domain.WebhookUserUnlocked, u.ID()})

	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, nil)
	expect("a login changes nothing subscribers see")
	wantErr(t, e.svc.ChangePassword(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleAuthenticated}, goodPass, "another-Horse-9"), nil)
	expect("password change", seen{domain.WebhookUserPasswordChanged, u.ID()})
	wantErr(t, e.svc.RequestPasswordReset(ctx, "alice@example.com"), nil)
	expect("a reset request changes nothing subscribers see")
	wantErr(t, e.svc.ConfirmPasswordReset(ctx, e.resetToken(t, "alice@example.com"), "a-third-Horse-10"), nil)
	expect("password reset", seen{domain.WebhookUserPasswordChanged, u.ID()})

	// The email: changed by staff, then by its owner with the link.
	_, err = e.svc.UpdateUser(ctx, admin, u.ID(), app.UpdateUserInput{Email: ptr("alice.new@example.com")})
	wantErr(t, err, nil)
	expect("staff email change", seen{domain.WebhookUserEmailChanged, u.ID()}, seen{domain.WebhookUserUpdated, u.ID()})
	dave := e.verified(t, "dave@example.com")
	expect("dave", seen{domain.WebhookUserCreated, dave.ID()}, seen{domain.WebhookUserVerified, dave.ID()})
	daveActor, _ := e.signedIn(t, "dave@example.com")
	wantErr(t, e.svc.RequestEmailChange(ctx, daveActor, "dave.new@example.com", goodPass), nil)
	expect("an email change asked changes nothing yet")
	_, err = e.svc.ConfirmEmailChange(ctx, e.emailChangeSecret(t, "dave.new@example.com"))
	wantErr(t, err, nil)
	expect("own email change", seen{domain.WebhookUserEmailChanged, dave.ID()})

	// An invitation creates an account; accepting it verifies it.
	invited := e.invite(t, admin, "erin@example.com")
	expect("invitation", seen{domain.WebhookUserCreated, invited.ID()})
	if !e.snapshot(t, invited.ID()).InvitationPending {
		t.Error("the invited account's snapshot is not invitation_pending")
	}
	_, err = e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "erin@example.com"), Password: goodPass})
	wantErr(t, err, nil)
	expect("invitation accepted", seen{domain.WebhookUserVerified, invited.ID()})

	// The second factor: on, off by its owner, on again, off by an ADMIN.
	carol := e.mfaUser(t, "carol@example.com")
	expect("second factor on", seen{domain.WebhookUserCreated, carol.id}, seen{domain.WebhookUserVerified, carol.id},
		seen{domain.WebhookUserMFAEnabled, carol.id})
	wantErr(t, e.svc.DisableTOTP(ctx, carol.actor, goodPass, e.code(carol.key)), nil)
	expect("second factor off", seen{domain.WebhookUserMFADisabled, carol.id})
	enr, err := e.svc.EnrolTOTP(ctx, carol.actor, goodPass)
	wantErr(t, err, nil)
	_, err = e.svc.ConfirmTOTP(ctx, carol.actor, e.code(decodeSecret(t, enr.Secret)))
	wantErr(t, err, nil)
	expect("second factor on again", seen{domain.WebhookUserMFAEnabled, carol.id})
	if !e.snapshot(t, carol.id).MFAEnabled {
		t.Error("the snapshot says the second factor is off")
	}
	_, err = e.svc.ResetSecondFactor(ctx, admin, carol.id)
	wantErr(t, err, nil)
	expect("second factor reset by an ADMIN", seen{domain.WebhookUserMFADisabled, carol.id})

	gone := e.snapshot(t, staffMade.ID())
	wantErr(t, e.svc.DeleteUser(ctx, admin, staffMade.ID()), nil)
	ds, err := e.mem.ClaimDeliveries(ctx, e.clock.Now(), 10, time.Hour)
	if err != nil || len(ds) != 1 || ds[0].Event.Type != domain.WebhookUserDeleted || ds[0].Event.User != gone {
		t.Errorf("staff delete: claimed %+v, %v; want user.deleted with the user as it was", ds, err)
	}
	wantErr(t, e.svc.DeleteMe(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleAuthenticated}, "a-third-Horse-10"), nil)
	expect("own delete", seen{domain.WebhookUserDeleted, u.ID()})
}

// snapshot reads a user's snapshot from the store.
func (e *env) snapshot(tb testing.TB, id string) domain.UserSnapshot {
	tb.Helper()
	return e.user(tb, id).Snapshot()
}
