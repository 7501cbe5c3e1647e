package app_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// invitationSecret is the token of the last invitation mailed to address.
func (e *env) invitationSecret(tb testing.TB, address string) string {
	tb.Helper()
	msgs := e.sentTo(address, domain.MessageInvitation)
	if len(msgs) == 0 {
		tb.Fatalf("no invitation sent to %s", address)
	}
	link := msgs[len(msgs)-1].Link
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, baseURL+"/invitation?") || u.Path != "/invitation" || u.Query().Get("token") == "" {
		tb.Fatalf("invitation link %q is not %s/invitation?token=…", link, baseURL)
	}
	return u.Query().Get("token")
}

// invite has admin invite address.
func (e *env) invite(tb testing.TB, admin domain.Actor, address string) *domain.User {
	tb.Helper()
	u, err := e.svc.InviteUser(context.Background(), admin, app.InviteInput{Email: address})
	if err != nil {
		tb.Fatalf("InviteUser(%s): %v", address, err)
	}
	return u
}

func TestInviteUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	mgr := e.withRole(t, "mgr@example.com", domain.RoleManager)
	user := e.verified(t, "user@example.com")
	userActor := domain.Actor{ID: user.ID(), Role: domain.RoleAuthenticated}

	u, err := e.svc.InviteUser(ctx, admin, app.InviteInput{
		Email: " Grace@Example.com ", Nickname: "grace_h", Profile: domain.Profile{FirstName: "Grace"}, Role: ptr(domain.RoleManager),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := e.user(t, u.ID()).State()
	secret := e.invitationSecret(t, "grace@example.com")
	if st.Email != "grace@example.com" || st.Role != domain.RoleManager || st.PasswordHash != "" || st.EmailVerified ||
		!st.InvitationPending || st.InvitationTokenHash != sha256Hex(secret) || !st.InvitationExpiresAt.Equal(t0.Add(72*time.Hour)) ||
		st.Nickname != "grace_h" || st.Profile.FirstName != "Grace" {
		t.Errorf("invited: %+v", st)
	}
	if len(e.sentTo("grace@example.com", domain.MessageVerifyEmail)) != 0 {
		t.Error("an invitation also sent a verification link")
	}
	if ev := e.events(t, domain.EventUserInvited); len(ev) != 1 || ev[0].ActorID != admin.ID || ev[0].TargetID != u.ID() {
		t.Errorf("audit %+v", ev)
	}

	u, err = e.svc.InviteUser(ctx, mgr, app.InviteInput{Email: "plain@example.com"})
	if err != nil || u.Role() != domain.RoleAuthenticated {
		t.Errorf("a MANAGER's invitation: %v, %v; want AUTHENTICATED", u, err)
	}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		in    app.InviteInput
		want  error
	}{
		{"a MANAGER choosing a role", mgr, app.InviteInput{Email: "x@example.com", Role: ptr(domain.RoleAuthenticated)}, domain.ErrNotPermitted},
		{"a user", userActor, app.InviteInput{Email: "x@example.com"}, domain.ErrNotPermitted},
		{"a taken email", admin, app.InviteInput{Email: "USER@example.com"}, domain.ErrEmailTaken},
		{"an invited email", mgr, app.InviteInput{Email: "grace@example.com"}, domain.ErrEmailTaken},
		{"a taken nickname", admin, app.InviteInput{Email: "y@example.com", Nickname: "GRACE_H"}, domain.ErrNicknameTaken},
	} {
		_, err := e.svc.InviteUser(ctx, tc.actor, tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	_, err = e.svc.InviteUser(ctx, admin, app.InviteInput{Email: "bad", Nickname: "x", Profile: domain.Profile{Bio: strings.Repeat("b", 501)}})
	wantInvalid(t, err, "email", "nickname", "bio")

	custom := newEnv(t, func(d *deps) { d.cfg.InvitationTTL = time.Hour })
	u = custom.invite(t, custom.admin(t, "root@example.com"), "short@example.com")
	if got := u.State().InvitationExpiresAt; !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("with InvitationTTL 1h the link expires %v", got)
	}
}

func TestAcceptInvitation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	u := e.invite(t, admin, "grace@example.com")
	secret := e.invitationSecret(t, "grace@example.com")

	for _, bad := range []string{"", "secret-0", secret + "x", strings.Repeat("s", 513)} {
		_, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: bad, Password: goodPass, SignIn: true})
		wantErr(t, err, domain.ErrInvalidInvitation)
	}
	_, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: secret, Password: "grace@example.com", SignIn: true})
	wantInvalid(t, err, "password")
	if st := e.user(t, u.ID()).State(); !st.InvitationPending || st.PasswordHash != "" {
		t.Error("a refused acceptance changed the user")
	}

	e.clock.Advance(time.Hour)
	res, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: secret, Password: goodPass, SignIn: true})
	if err != nil {
		t.Fatal(err)
	}
	st := e.user(t, u.ID()).State()
	if st.InvitationPending || st.InvitationTokenHash != "" || st.PasswordHash != fakeHash(goodPass) || !st.EmailVerified ||
		st.Role != domain.RoleAuthenticated || !st.LastLoginAt.Equal(t0.Add(time.Hour)) || st.PasswordVersion != 1 {
		t.Errorf("accepted: %+v", st)
	}
	if res.AccessToken == "" || res.RefreshToken == "" || res.User.ID() != u.ID() {
		t.Fatalf("result %+v, want tokens", res)
	}
	actor := e.actorOf(t, res.AccessToken)
	if !e.sessionAlive(t, actor.SessionID) {
		t.Error("no session")
	}
	if _, err := e.svc.Refresh(ctx, res.RefreshToken); err != nil {
		t.Errorf("Refresh: %v", err)
	}
	for _, typ := range []domain.AuditEventType{domain.EventInvitationAccepted, domain.EventLoginSucceeded} {
		if ev := e.events(t, typ); len(ev) == 0 || ev[0].TargetID != u.ID() {
			t.Errorf("no %s event", typ)
		}
	}
	_, err = e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: secret, Password: goodPass, SignIn: true})
	wantErr(t, err, domain.ErrInvalidInvitation)
	e.session(t, "grace@example.com", goodPass)
	wantErr(t, e.svc.ResendInvitation(ctx, admin, u.ID()), domain.ErrInvitationAlreadyAccepted)
}

func TestAcceptInvitationWithoutSigningIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.invite(t, e.admin(t, "root@example.com"), "grace@example.com")
	res, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "grace@example.com"), Password: goodPass})
	if err != nil {
		t.Fatal(err)
	}
	if res.AccessToken != "" || res.RefreshToken != "" || res.User == nil {
		t.Errorf("without SignIn: %+v, want the user and no tokens", res)
	}
	if list, _ := e.mem.ListSessions(ctx, u.ID(), e.clock.Now()); len(list) != 0 {
		t.Errorf("%d sessions, want none", len(list))
	}
	if st := e.user(t, u.ID()).State(); st.InvitationPending || !st.EmailVerified || !st.LastLoginAt.IsZero() {
		t.Errorf("accepted: %+v", st)
	}
	e.session(t, "grace@example.com", goodPass)
}

func TestInvitationExpiryAndResend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	mgr := e.withRole(t, "mgr@example.com", domain.RoleManager)
	u := e.invite(t, admin, "grace@example.com")
	first := e.invitationSecret(t, "grace@example.com")
	e.clock.Advance(72 * time.Hour)
	_, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: first, Password: goodPass})
	wantErr(t, err, domain.ErrInvalidInvitation)

	wantErr(t, e.svc.ResendInvitation(ctx, mgr, u.ID()), nil)
	second := e.invitationSecret(t, "grace@example.com")
	if st := e.user(t, u.ID()).State(); st.InvitationTokenHash != sha256Hex(second) || !st.InvitationExpiresAt.Equal(e.clock.Now().Add(72*time.Hour)) {
		t.Errorf("reissued: %q until %v", st.InvitationTokenHash, st.InvitationExpiresAt)
	}
	if ev := e.events(t, domain.EventInvitationResent); len(ev) != 1 || ev[0].ActorID != mgr.ID {
		t.Errorf("audit %+v", ev)
	}
	wantErr(t, e.svc.ResendInvitation(ctx, mgr, "00000000-0000-4000-8000-999999999999"), domain.ErrUserNotFound)
	wantErr(t, e.svc.ResendInvitation(ctx, domain.Actor{ID: u.ID(), Role: domain.RoleAuthenticated}, u.ID()), domain.ErrNotPermitted)
	invitedMgr, err := e.svc.InviteUser(ctx, admin, app.InviteInput{Email: "m2@example.com", Role: ptr(domain.RoleManager)})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.ResendInvitation(ctx, mgr, invitedMgr.ID()), domain.ErrNotPermitted)
	if _, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: second, Password: goodPass}); err != nil {
		t.Fatal(err)
	}
}

// TestInvitedAccountIsAnUnknownEmail: until accepted, an invitation answers
// a login as an unknown email does (one check of the dummy hash, the same
// audit event, no write to the user), and a reset or verification request
// as for an unknown email (nothing mailed, the same audit event).
func TestInvitedAccountIsAnUnknownEmail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.invite(t, e.admin(t, "root@example.com"), "grace@example.com")
	before := e.user(t, u.ID()).State()
	e.flush()
	sent := len(e.mailer.SendCalls())

	for _, email := range []string{"grace@example.com", "nobody@example.com"} {
		checks := len(e.hasher.VerifyCalls())
		for range 2 * maxAttempts {
			_, err := e.login(email, goodPass)
			wantErr(t, err, domain.ErrInvalidCredentials)
		}
		calls := e.hasher.VerifyCalls()[checks:]
		if len(calls) != 2*maxAttempts {
			t.Errorf("%s: %d password checks, want %d", email, len(calls), 2*maxAttempts)
		}
		for _, c := range calls {
			if c.Hash != dummyHash {
				t.Errorf("%s: a password was checked against %q, want the dummy hash", email, c.Hash)
			}
		}
		wantErr(t, e.svc.RequestPasswordReset(ctx, email), nil)
		wantErr(t, e.svc.ResendVerification(ctx, email), nil)
	}
	if st := e.user(t, u.ID()).State(); st != before {
		t.Errorf("the invitation was written to:\n%+v\n%+v", before, st)
	}
	e.flush()
	if n := len(e.mailer.SendCalls()); n != sent {
		t.Errorf("%d emails sent, want none", n-sent)
	}
	for _, typ := range []domain.AuditEventType{domain.EventLoginFailed, domain.EventResetRequested, domain.EventVerificationResent} {
		events := e.events(t, typ)
		if len(events) == 0 {
			t.Fatalf("no %s events", typ)
		}
		for _, ev := range events {
			if ev.TargetID != "" || ev.Detail != "unknown email" {
				t.Errorf("%s event %+v, want the unknown email's, naming nobody", typ, ev)
			}
		}
	}
	// Still a working invitation.
	if _, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "grace@example.com"), Password: goodPass}); err != nil {
		t.Fatal(err)
	}
}

func TestInvitationOfAStaffLockedAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	u := e.invite(t, admin, "grace@example.com")
	if _, err := e.svc.Lock(ctx, admin, u.ID()); err != nil {
		t.Fatal(err)
	}
	before := e.user(t, u.ID()).State()
	_, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "grace@example.com"), Password: goodPass, SignIn: true})
	wantErr(t, err, domain.ErrAccountLocked)
	if st := e.user(t, u.ID()).State(); st != before {
		t.Error("a refused acceptance changed the user")
	}
}

func TestStaffEmailChangeOfAnInvitation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	u := e.invite(t, admin, "grace@example.com")
	old := e.invitationSecret(t, "grace@example.com")
	if _, err := e.svc.UpdateUser(ctx, admin, u.ID(), app.UpdateUserInput{Email: ptr("grace.h@example.com")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: old, Password: goodPass})
	wantErr(t, err, domain.ErrInvalidInvitation)
	if len(e.sentTo("grace.h@example.com", domain.MessageVerifyEmail)) != 0 {
		t.Error("an invitation got a verification link it cannot use")
	}
	if len(e.sentTo("grace@example.com", domain.MessageEmailChanged)) != 1 {
		t.Error("the old address was not told")
	}
	if _, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "grace.h@example.com"), Password: goodPass}); err != nil {
		t.Fatal(err)
	}
	e.session(t, "grace.h@example.com", goodPass)
}

// TestAnInvitedAdminIsNotAnAdminYet: an ADMIN invitation nobody accepted
// may never be, so it does not stand in for the last ADMIN; and removing
// it is not removing the last ADMIN.
func TestAnInvitedAdminIsNotAnAdminYet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	root := e.admin(t, "root@example.com")
	invited, err := e.svc.InviteUser(ctx, root, app.InviteInput{Email: "next@example.com", Role: ptr(domain.RoleAdmin)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ChangeRole(ctx, root, root.ID, domain.RoleManager)
	wantErr(t, err, domain.ErrLastAdmin)
	wantErr(t, e.svc.DeleteUser(ctx, root, root.ID), domain.ErrLastAdmin)
	wantErr(t, e.svc.DeleteMe(ctx, root, goodPass), domain.ErrLastAdmin)

	second, err := e.svc.InviteUser(ctx, root, app.InviteInput{Email: "other@example.com", Role: ptr(domain.RoleAdmin)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangeRole(ctx, root, second.ID(), domain.RoleAuthenticated); err != nil {
		t.Errorf("demoting an invited ADMIN: %v", err)
	}
	wantErr(t, e.svc.DeleteUser(ctx, root, second.ID()), nil)

	if _, err := e.svc.AcceptInvitation(ctx, app.AcceptInvitationInput{Token: e.invitationSecret(t, "next@example.com"), Password: goodPass}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.DeleteUser(ctx, domain.Actor{ID: invited.ID(), Role: domain.RoleAdmin}, root.ID), nil)
}
