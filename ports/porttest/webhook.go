package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// WebhookStoreUnderTest is a user store that is also where the webhook
// events of its users' changes go: the endpoints and the deliveries outbox.
type WebhookStoreUnderTest interface {
	ports.UserStore
	ports.WebhookStore
	ports.WebhookOutbox
}

// Webhooks runs the ports.WebhookStore and ports.WebhookOutbox contracts,
// and the UserStore's part of them (the webhook events a change owes are
// saved, fanned out to the endpoints subscribed then, if and only if the
// change commits), as named subtests. newStore must return an empty store
// that no other subtest uses; it may register cleanup on t.
//
// Beyond the ports' comments, the suite requires that deliveries are due at
// the time of their event (so a dispatcher on the service's clock sees
// them at once), that a delivery's event id is a UUID shared by the
// deliveries of one event, and that ListDeliveries' limit of zero or less
// means 100.
func Webhooks(t *testing.T, newStore func(t *testing.T) WebhookStoreUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s WebhookStoreUnderTest)
	}{
		{"CreateListDelete", testWebhookCRUD},
		{"EventsFanOutWithTheChange", testWebhookFanOut},
		{"OnlySubscribedEventsAreSaved", testWebhookUnsubscribed},
		{"RolledBackChangesSaveNoEvent", testWebhookRolledBack},
		{"SnapshotIsTheChangesResult", testWebhookSnapshot},
		{"DeleteUserSavesItsEvent", testWebhookDeleteUser},
		{"ImportedUsersOweTheirEvents", testWebhookImport},
		{"ClaimRespectsNowLimitAndLease", testWebhookClaim},
		{"MarkDeliveredIsFinal", testWebhookMarkDelivered},
		{"MarkRetryReschedules", testWebhookMarkRetry},
		{"MarkFailedIsFinal", testWebhookMarkFailed},
		{"UnknownDelivery", testWebhookUnknownDelivery},
		{"DeleteWebhookDropsItsDeliveries", testWebhookDeleteDrops},
		{"DeliveriesLogNewestFirst", testWebhookLog},
		{"ConcurrentClaimersGetEachDeliveryOnce", testWebhookConcurrentClaimers},
		{"ChangesRaceWebhookDeletion", testWebhookDeleteRace},
		{"CancelledContext", testWebhookCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// hookOpts compare what the stores return: roles by value, times to the
// microsecond the databases keep.
var hookOpts = gocmp.Options{
	gocmp.Comparer(func(a, b domain.Role) bool { return a == b }),
	gocmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
	}),
	cmpopts.EquateEmpty(),
}

// addHook creates an endpoint subscribed to events, created at epoch.
func addHook(tb testing.TB, s WebhookStoreUnderTest, events ...domain.WebhookEventType) domain.Webhook {
	tb.Helper()
	id := uuid.NewString()
	w := domain.Webhook{
		ID: id, URL: "https://hooks.example.com/" + id[:8], Events: events,
		SealedSecret: "v1:sealed-" + id, CreatedAt: epoch,
	}
	if err := s.CreateWebhook(context.Background(), w); err != nil {
		tb.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// recordOn creates a user at 'at' with audit events of types recorded
// (without times: the store's time is the user's creation) and returns it.
func recordOn(tb testing.TB, s WebhookStoreUnderTest, at time.Time, types ...domain.AuditEventType) *domain.User {
	tb.Helper()
	u := newUser(tb, uniqueNickname("hook")+"@example.com", uniqueNickname("hook"), domain.RoleAnonymous, at)
	for _, typ := range types {
		u.Record(domain.AuditEvent{Type: typ, TargetID: u.ID()})
	}
	mustCreate(tb, s, u)
	return u
}

func mustClaimDeliveries(tb testing.TB, s WebhookStoreUnderTest, now time.Time, limit int, lease time.Duration) []ports.ClaimedDelivery {
	tb.Helper()
	got, err := s.ClaimDeliveries(context.Background(), now, limit, lease)
	if err != nil {
		tb.Fatalf("ClaimDeliveries(%v, %d, %v): %v", now, limit, lease, err)
	}
	return got
}

func assertNoDelivery(tb testing.TB, s WebhookStoreUnderTest, now time.Time, when string) {
	tb.Helper()
	if got := mustClaimDeliveries(tb, s, now, 100, lease); len(got) != 0 {
		tb.Errorf("%s: claimed %d deliveries at %v, want none: %+v", when, len(got), now, got)
	}
}

func mustDeliveries(tb testing.TB, s WebhookStoreUnderTest, webhookID string) []ports.WebhookDelivery {
	tb.Helper()
	got, err := s.ListDeliveries(context.Background(), webhookID, 0)
	if err != nil {
		tb.Fatalf("ListDeliveries(%s): %v", webhookID, err)
	}
	return got
}

// claimedTo lists the endpoint ids of claimed deliveries, sorted.
func claimedTo(ds []ports.ClaimedDelivery) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Webhook.ID)
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func testWebhookCRUD(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	if got, err := s.ListWebhooks(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListWebhooks of an empty store = %v, %v; want none", got, err)
	}
	first := domain.Webhook{
		ID: uuid.NewString(), URL: "https://a.example.com/hook?x=1", Events: []domain.WebhookEventType{domain.WebhookAllEvents},
		SealedSecret: "v1:first", CreatedAt: epoch,
	}
	second := domain.Webhook{
		ID: strings.ToUpper(uuid.NewString()), URL: "http://127.0.0.1:9/h",
		Events:       []domain.WebhookEventType{domain.WebhookUserCreated, domain.WebhookUserDeleted},
		SealedSecret: "v1:second", CreatedAt: epoch.Add(time.Second),
	}
	for _, w := range []domain.Webhook{second, first} { // newest first: the list must sort
		if err := s.CreateWebhook(ctx, w); err != nil {
			t.Fatalf("CreateWebhook: %v", err)
		}
	}
	second.ID = strings.ToLower(second.ID)
	got, err := s.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	if diff := gocmp.Diff([]domain.Webhook{first, second}, got, hookOpts); diff != "" {
		t.Errorf("ListWebhooks (-want +got):\n%s", diff)
	}
	for _, w := range got {
		if w.CreatedAt.Location() != time.UTC {
			t.Errorf("webhook %s: CreatedAt %v is not in UTC", w.ID, w.CreatedAt)
		}
	}
	dup := first
	dup.URL = "https://b.example.com/"
	if err := s.CreateWebhook(ctx, dup); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateWebhook with a taken id: error = %v, want one wrapping ErrConflict", err)
	}
	if d := mustDeliveries(t, s, first.ID); len(d) != 0 {
		t.Errorf("a new endpoint has %d deliveries", len(d))
	}

	if err := s.DeleteWebhook(ctx, strings.ToUpper(first.ID)); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	got, err = s.ListWebhooks(ctx)
	if err != nil || len(got) != 1 || got[0].ID != second.ID {
		t.Errorf("after deleting one, ListWebhooks = %+v, %v; want the other", got, err)
	}
	for _, id := range []string{first.ID, uuid.NewString(), "not-a-uuid", ""} {
		if err := s.DeleteWebhook(ctx, id); !errors.Is(err, domain.ErrWebhookNotFound) {
			t.Errorf("DeleteWebhook(%q) error = %v, want ErrWebhookNotFound", id, err)
		}
		if _, err := s.ListDeliveries(ctx, id, 10); !errors.Is(err, domain.ErrWebhookNotFound) {
			t.Errorf("ListDeliveries(%q) error = %v, want ErrWebhookNotFound", id, err)
		}
	}
}

func testWebhookFanOut(t *testing.T, s WebhookStoreUnderTest) {
	all := addHook(t, s, domain.WebhookAllEvents)
	deleted := addHook(t, s, domain.WebhookUserDeleted)
	created := addHook(t, s, domain.WebhookUserUpdated, domain.WebhookUserCreated)
	u := recordOn(t, s, epoch, domain.EventUserRegistered)
	if left := u.TakeWebhookEvents(); len(left) != 0 {
		t.Errorf("after CreateUser %d webhook events are still recorded on the user, want the store to take them", len(left))
	}

	got := mustClaimDeliveries(t, s, epoch, 10, lease)
	if diff := gocmp.Diff(sortedIDs(all.ID, created.ID), claimedTo(got)); diff != "" {
		t.Fatalf("deliveries went to (-want +got):\n%s", diff)
	}
	if got[0].ID == got[1].ID {
		t.Errorf("two deliveries share the id %s", got[0].ID)
	}
	if got[0].Event.ID != got[1].Event.ID {
		t.Errorf("the deliveries of one event carry event ids %s and %s, want one", got[0].Event.ID, got[1].Event.ID)
	}
	for _, d := range got {
		if _, err := uuid.Parse(d.Event.ID); err != nil {
			t.Errorf("event id %q is not a UUID", d.Event.ID)
		}
		if _, err := uuid.Parse(d.ID); err != nil {
			t.Errorf("delivery id %q is not a UUID", d.ID)
		}
		want := domain.WebhookEvent{ID: d.Event.ID, Type: domain.WebhookUserCreated, At: epoch, User: u.Snapshot()}
		if diff := gocmp.Diff(want, d.Event, hookOpts); diff != "" {
			t.Errorf("delivery %s: event (-want +got):\n%s", d.ID, diff)
		}
		if d.Event.At.Location() != time.UTC || d.Event.User.CreatedAt.Location() != time.UTC {
			t.Errorf("delivery %s: times are not in UTC: %v, %v", d.ID, d.Event.At, d.Event.User.CreatedAt)
		}
		if d.Attempts != 1 {
			t.Errorf("delivery %s: Attempts = %d, want 1", d.ID, d.Attempts)
		}
		wantHook := all
		if d.Webhook.ID == created.ID {
			wantHook = created
		}
		if diff := gocmp.Diff(wantHook, d.Webhook, hookOpts); diff != "" {
			t.Errorf("delivery %s: webhook (-want +got):\n%s", d.ID, diff)
		}
	}
	if d := mustDeliveries(t, s, deleted.ID); len(d) != 0 {
		t.Errorf("an endpoint subscribed to user.deleted got %d deliveries of user.created", len(d))
	}
	assertNoDelivery(t, s, epoch.Add(lease-time.Microsecond), "within the lease")
}

func testWebhookUnsubscribed(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	// No endpoint at all: a change owing an event saves none, and an
	// endpoint created afterwards never receives it.
	u := recordOn(t, s, epoch, domain.EventUserRegistered)
	hook := addHook(t, s, domain.WebhookAllEvents)
	assertNoDelivery(t, s, epoch.Add(time.Hour), "after a change made before any endpoint")

	// Audit events that owe no webhook event.
	later := epoch.Add(time.Minute)
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, At: later})
		cur.Record(domain.AuditEvent{Type: domain.EventLoginFailed, At: later})
		cur.Record(domain.AuditEvent{Type: domain.EventResetRequested, At: later})
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	assertNoDelivery(t, s, later.Add(time.Hour), "after events that owe no webhook")

	// An endpoint that does not subscribe to the event's type.
	if err := s.DeleteWebhook(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	addHook(t, s, domain.WebhookUserDeleted, domain.WebhookUserLocked)
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Record(domain.AuditEvent{Type: domain.EventUserUpdated, At: later})
		return cur.UpdateProfile(domain.ProfilePatch{Bio: ptr("changed")}, later)
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	assertNoDelivery(t, s, later.Add(time.Hour), "after an event no endpoint subscribes to")
}

func ptr[T any](v T) *T { return &v }

func testWebhookRolledBack(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	hook := addHook(t, s, domain.WebhookAllEvents)
	u := newUser(t, "rolled@example.com", "rolled", domain.RoleAdmin, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, newUser(t, "taken@example.com", "taken", domain.RoleAnonymous, epoch))
	later := epoch.Add(time.Minute)
	errBoom := errors.New("boom")
	event := domain.AuditEvent{Type: domain.EventUserUpdated, At: later}

	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Record(event)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser error = %v, want the closure's error", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(event)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUserCountingAdmins error = %v, want the closure's error", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(domain.AuditEvent{Type: domain.EventUserDeleted, At: later})
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("DeleteUser error = %v, want the check's error", err)
	}
	// The closure succeeds but the save fails on a unique index.
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Record(event)
		return cur.ChangeEmail("taken@example.com", later)
	}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("UpdateUser to a taken email: error = %v, want ErrEmailTaken", err)
	}
	dup := newUser(t, "taken@example.com", "second", domain.RoleAnonymous, later)
	dup.Record(domain.AuditEvent{Type: domain.EventUserRegistered})
	if err := s.CreateUser(ctx, dup); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("CreateUser with a taken email: error = %v, want ErrEmailTaken", err)
	}
	// What the failed create recorded stays recorded, once.
	if left := dup.TakeWebhookEvents(); len(left) != 1 || left[0].Type != domain.WebhookUserCreated {
		t.Errorf("after a failed CreateUser the user holds webhook events %+v, want the one user.created", left)
	}
	assertNoDelivery(t, s, later.Add(time.Hour), "after rolled-back changes")
	if d := mustDeliveries(t, s, hook.ID); len(d) != 0 {
		t.Errorf("the deliveries log holds %d deliveries of rolled-back changes", len(d))
	}
}

func testWebhookSnapshot(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	addHook(t, s, domain.WebhookAllEvents)
	u := newUser(t, "snap@example.com", "snap", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	later, latest := epoch.Add(time.Minute), epoch.Add(2*time.Minute)
	// The event is recorded before the change, as use cases do: the
	// snapshot is still the change's result, and the event keeps its time.
	var want domain.UserSnapshot
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(domain.AuditEvent{Type: domain.EventRoleChanged, At: later})
		cur.SetRole(domain.RoleManager, latest)
		if err := cur.UpdateProfile(domain.ProfilePatch{FirstName: ptr("Ada"), GitHubProfileURL: ptr("https://github.com/ada")}, latest); err != nil {
			return err
		}
		cur.UpgradeToProfessional(latest)
		want = cur.Snapshot()
		return nil
	}); err != nil {
		t.Fatalf("UpdateUserCountingAdmins: %v", err)
	}
	got := mustClaimDeliveries(t, s, latest, 10, lease)
	if len(got) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(got))
	}
	if want.Role != domain.RoleManager || !want.IsProfessional {
		t.Fatalf("bad test: snapshot %+v", want)
	}
	wantEvent := domain.WebhookEvent{ID: got[0].Event.ID, Type: domain.WebhookUserRoleChanged, At: later, User: want}
	if diff := gocmp.Diff(wantEvent, got[0].Event, hookOpts); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func testWebhookDeleteUser(t *testing.T, s WebhookStoreUnderTest) {
	hook := addHook(t, s, domain.WebhookUserDeleted)
	u := newUser(t, "gone@example.com", "gone", domain.RoleManager, epoch)
	mustCreate(t, s, u)
	later := epoch.Add(time.Minute)
	if err := s.DeleteUser(t.Context(), u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(domain.AuditEvent{Type: domain.EventUserDeleted, At: later})
		return nil
	}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	got := mustClaimDeliveries(t, s, later, 10, lease)
	if len(got) != 1 || got[0].Webhook.ID != hook.ID {
		t.Fatalf("claimed %+v, want one delivery to %s", got, hook.ID)
	}
	want := domain.WebhookEvent{ID: got[0].Event.ID, Type: domain.WebhookUserDeleted, At: later, User: u.Snapshot()}
	if diff := gocmp.Diff(want, got[0].Event, hookOpts); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

// testWebhookImport: a store that also imports users (ports.UserImporter)
// saves the webhook events of the users it creates at once, all or none.
func testWebhookImport(t *testing.T, s WebhookStoreUnderTest) {
	imp, ok := s.(ports.UserImporter)
	if !ok {
		return // nothing to import with
	}
	ctx := t.Context()
	addHook(t, s, domain.WebhookAllEvents)
	mustCreate(t, s, newUser(t, "taken@example.com", "taken", domain.RoleAnonymous, epoch))
	assertNoDelivery(t, s, epoch.Add(time.Hour), "after a change that owes nothing")
	imported := func(email, nick string) *domain.User {
		u := newUser(t, email, nick, domain.RoleAuthenticated, epoch)
		u.Record(domain.AuditEvent{Type: domain.EventUserCreated, TargetID: u.ID()})
		return u
	}
	ok1, dup := imported("one@example.com", "one"), imported("taken@example.com", "other")
	if err := imp.CreateUsers(ctx, []*domain.User{ok1, dup}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("CreateUsers with a taken email: %v, want ErrEmailTaken", err)
	}
	assertNoDelivery(t, s, epoch.Add(time.Hour), "after a refused import")
	// What the refused import recorded stays on its users, once: ok1 is
	// imported again as it is, and owes one event, not two.
	two := imported("two@example.com", "two")
	if err := imp.CreateUsers(ctx, []*domain.User{ok1, two}); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	got := mustClaimDeliveries(t, s, epoch.Add(time.Hour), 10, lease)
	users := map[string][]domain.WebhookEventType{}
	for _, d := range got {
		users[d.Event.User.ID] = append(users[d.Event.User.ID], d.Event.Type)
	}
	want := map[string][]domain.WebhookEventType{ok1.ID(): {domain.WebhookUserCreated}, two.ID(): {domain.WebhookUserCreated}}
	if diff := gocmp.Diff(want, users); diff != "" {
		t.Errorf("imported users' deliveries (-want +got):\n%s", diff)
	}
}

func testWebhookClaim(t *testing.T, s WebhookStoreUnderTest) {
	addHook(t, s, domain.WebhookAllEvents)
	// One event per user, a minute apart, created newest first so that
	// insertion order cannot pass for time order.
	const n = 5
	users := make([]*domain.User, n)
	for i := n - 1; i >= 0; i-- {
		users[i] = recordOn(t, s, epoch.Add(time.Duration(i)*time.Minute), domain.EventUserRegistered)
	}
	who := func(ds []ports.ClaimedDelivery) []string {
		out := make([]string, 0, len(ds))
		for _, d := range ds {
			out = append(out, d.Event.User.ID)
		}
		return out
	}
	ids := func(us ...*domain.User) []string {
		out := make([]string, 0, len(us))
		for _, u := range us {
			out = append(out, u.ID())
		}
		return out
	}
	assertNoDelivery(t, s, epoch.Add(-time.Microsecond), "before the first event")
	now := epoch.Add(2 * time.Minute) // due exactly now counts
	if diff := gocmp.Diff(ids(users[0], users[1], users[2]), who(mustClaimDeliveries(t, s, now, 10, lease))); diff != "" {
		t.Errorf("claimed at %v (-want +got):\n%s", now, diff)
	}
	now = epoch.Add(10 * time.Minute)
	if diff := gocmp.Diff(ids(users[3]), who(mustClaimDeliveries(t, s, now, 1, lease))); diff != "" {
		t.Errorf("claimed with limit 1 (-want +got):\n%s", diff)
	}
	const short = time.Minute
	first := mustClaimDeliveries(t, s, now, 1, short)
	if diff := gocmp.Diff(ids(users[4]), who(first)); diff != "" {
		t.Errorf("claimed with limit 1 (-want +got):\n%s", diff)
	}
	assertNoDelivery(t, s, now.Add(short-time.Microsecond), "with every delivery leased")
	if got := mustClaimDeliveries(t, s, now.Add(2*lease), 0, lease); len(got) != 0 {
		t.Errorf("ClaimDeliveries with limit 0 returned %d deliveries", len(got))
	}
	again := mustClaimDeliveries(t, s, now.Add(short), 10, lease)
	if len(again) != 1 || len(first) != 1 {
		t.Fatalf("after the short lease claimed %d deliveries, want the one", len(again))
	}
	if again[0].ID != first[0].ID || again[0].Event.ID != first[0].Event.ID || again[0].Attempts != 2 {
		t.Errorf("reclaimed %s (event %s, attempt %d), want %s (event %s, attempt 2)",
			again[0].ID, again[0].Event.ID, again[0].Attempts, first[0].ID, first[0].Event.ID)
	}
	// Once every lease ended, all five come back, oldest event first.
	all := mustClaimDeliveries(t, s, now.Add(3*lease), 100, lease)
	if diff := gocmp.Diff(ids(users...), who(all)); diff != "" {
		t.Errorf("claimed after the leases (-want +got):\n%s", diff)
	}
}

// claimOne records one event on a new user at epoch, claims its delivery
// and returns it.
func claimOne(tb testing.TB, s WebhookStoreUnderTest) ports.ClaimedDelivery {
	tb.Helper()
	recordOn(tb, s, epoch, domain.EventUserRegistered)
	got := mustClaimDeliveries(tb, s, epoch, 10, lease)
	if len(got) != 1 {
		tb.Fatalf("claimed %d deliveries, want 1", len(got))
	}
	return got[0]
}

func testWebhookMarkDelivered(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	hook := addHook(t, s, domain.WebhookAllEvents)
	d := claimOne(t, s)
	at := epoch.Add(time.Second)
	if err := s.MarkDelivered(ctx, d.ID, at, 204); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	never := epoch.Add(100 * 365 * 24 * time.Hour)
	assertNoDelivery(t, s, never, "after MarkDelivered")
	// A dispatcher whose lease ran out reports late: it stays delivered.
	_ = s.MarkDeliveryRetry(ctx, d.ID, epoch, 500, "late retry")
	_ = s.MarkDeliveryFailed(ctx, d.ID, epoch, 500, "late failure")
	assertNoDelivery(t, s, never, "after late marks of a delivered delivery")
	want := []ports.WebhookDelivery{{
		ID: d.ID, EventID: d.Event.ID, Type: domain.WebhookUserCreated, Status: ports.DeliveryDelivered,
		Attempts: 1, LastStatusCode: 204, CreatedAt: epoch, DeliveredAt: at,
	}}
	if diff := gocmp.Diff(want, mustDeliveries(t, s, hook.ID), hookOpts); diff != "" {
		t.Errorf("deliveries log (-want +got):\n%s", diff)
	}
}

func testWebhookMarkRetry(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	hook := addHook(t, s, domain.WebhookAllEvents)
	d := claimOne(t, s)
	next := epoch.Add(10 * time.Minute)
	if err := s.MarkDeliveryRetry(ctx, d.ID, next, 503, "HTTP 503"); err != nil {
		t.Fatalf("MarkDeliveryRetry: %v", err)
	}
	want := ports.WebhookDelivery{
		ID: d.ID, EventID: d.Event.ID, Type: domain.WebhookUserCreated, Status: ports.DeliveryPending,
		Attempts: 1, LastStatusCode: 503, CreatedAt: epoch,
	}
	if diff := gocmp.Diff([]ports.WebhookDelivery{want}, mustDeliveries(t, s, hook.ID), hookOpts); diff != "" {
		t.Errorf("deliveries log (-want +got):\n%s", diff)
	}
	assertNoDelivery(t, s, next.Add(-time.Microsecond), "before the retry time")
	got := mustClaimDeliveries(t, s, next, 10, lease)
	if len(got) != 1 || got[0].ID != d.ID || got[0].Event.ID != d.Event.ID || got[0].Attempts != 2 {
		t.Fatalf("claimed at the retry time %+v, want %s on its second attempt with the same event id", got, d.ID)
	}
	// No answer at all (a refused connection), and any error text: long,
	// not UTF-8, with NUL (stores may clean it up).
	soon := next.Add(time.Second)
	if err := s.MarkDeliveryRetry(ctx, d.ID, soon, 0, strings.Repeat("é", 3000)+"\xff\x00"); err != nil {
		t.Fatalf("MarkDeliveryRetry without an answer: %v", err)
	}
	want.Attempts, want.LastStatusCode = 2, 0
	if diff := gocmp.Diff([]ports.WebhookDelivery{want}, mustDeliveries(t, s, hook.ID), hookOpts); diff != "" {
		t.Errorf("deliveries log (-want +got):\n%s", diff)
	}
	if got := mustClaimDeliveries(t, s, soon, 10, lease); len(got) != 1 || got[0].Attempts != 3 {
		t.Errorf("claimed %+v after the second retry, want the delivery on its third attempt", got)
	}
}

func testWebhookMarkFailed(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	hook := addHook(t, s, domain.WebhookAllEvents)
	d := claimOne(t, s)
	if err := s.MarkDeliveryFailed(ctx, d.ID, epoch.Add(time.Second), 410, "HTTP 410"); err != nil {
		t.Fatalf("MarkDeliveryFailed: %v", err)
	}
	never := epoch.Add(100 * 365 * 24 * time.Hour)
	assertNoDelivery(t, s, never, "after MarkDeliveryFailed")
	_ = s.MarkDeliveryRetry(ctx, d.ID, epoch, 500, "late retry")
	assertNoDelivery(t, s, never, "after a late retry of a failed delivery")
	log := mustDeliveries(t, s, hook.ID)
	if len(log) != 1 || log[0].Status != ports.DeliveryFailed || log[0].LastStatusCode != 410 || !log[0].DeliveredAt.IsZero() {
		t.Errorf("deliveries log %+v, want the one failed with 410 and no delivery time", log)
	}
}

func testWebhookUnknownDelivery(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	addHook(t, s, domain.WebhookAllEvents)
	recordOn(t, s, epoch, domain.EventUserRegistered) // a store with a delivery, just not these
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrWebhookNotFound) {
				t.Errorf("%s(%q) error = %v, want one wrapping ErrNotFound (not a user's nor a webhook's)", method, id, err)
			}
		}
		check("MarkDelivered", s.MarkDelivered(ctx, id, epoch, 200))
		check("MarkDeliveryRetry", s.MarkDeliveryRetry(ctx, id, epoch, 500, "x"))
		check("MarkDeliveryFailed", s.MarkDeliveryFailed(ctx, id, epoch, 500, "x"))
	}
}

func testWebhookDeleteDrops(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	gone := addHook(t, s, domain.WebhookAllEvents)
	kept := addHook(t, s, domain.WebhookUserCreated)
	recordOn(t, s, epoch, domain.EventUserRegistered)
	recordOn(t, s, epoch, domain.EventUserRegistered, domain.EventEmailVerified) // user.verified: to gone only
	claimed := mustClaimDeliveries(t, s, epoch, 1, lease)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d deliveries, want 1", len(claimed))
	}
	if err := s.DeleteWebhook(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if claimed[0].Webhook.ID == gone.ID {
		if err := s.MarkDelivered(ctx, claimed[0].ID, epoch, 200); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("MarkDelivered of a delivery whose endpoint was deleted: %v, want ErrNotFound", err)
		}
	}
	rest := mustClaimDeliveries(t, s, epoch.Add(2*lease), 100, lease)
	for _, d := range rest {
		if d.Webhook.ID != kept.ID {
			t.Errorf("claimed a delivery to the deleted endpoint %s", d.Webhook.ID)
		}
		if d.Event.Type != domain.WebhookUserCreated {
			t.Errorf("claimed an event of type %s for an endpoint subscribed to user.created", d.Event.Type)
		}
	}
	if len(rest) != 2 {
		t.Errorf("claimed %d deliveries to the kept endpoint, want its 2", len(rest))
	}
	if got := mustDeliveries(t, s, kept.ID); len(got) != 2 {
		t.Errorf("the kept endpoint's log holds %d deliveries, want 2", len(got))
	}
}

func testWebhookLog(t *testing.T, s WebhookStoreUnderTest) {
	ctx := t.Context()
	hook := addHook(t, s, domain.WebhookAllEvents)
	other := addHook(t, s, domain.WebhookAllEvents)
	const n = 4
	for i := range n {
		recordOn(t, s, epoch.Add(time.Duration(n-i)*time.Minute), domain.EventUserRegistered) // created newest first
	}
	log := mustDeliveries(t, s, hook.ID)
	if len(log) != n {
		t.Fatalf("log holds %d deliveries, want %d", len(log), n)
	}
	for i, d := range log {
		if want := epoch.Add(time.Duration(n-i) * time.Minute); !d.CreatedAt.Equal(want) || d.CreatedAt.Location() != time.UTC {
			t.Errorf("log[%d].CreatedAt = %v, want %v in UTC (newest first)", i, d.CreatedAt, want)
		}
		if d.Status != ports.DeliveryPending || d.Attempts != 0 || d.LastStatusCode != 0 || !d.DeliveredAt.IsZero() {
			t.Errorf("log[%d] = %+v, want pending, never attempted", i, d)
		}
		if d.Type != domain.WebhookUserCreated {
			t.Errorf("log[%d].Type = %q", i, d.Type)
		}
	}
	if got, err := s.ListDeliveries(ctx, hook.ID, 2); err != nil || len(got) != 2 || got[0].ID != log[0].ID || got[1].ID != log[1].ID {
		t.Errorf("ListDeliveries with limit 2 = %+v, %v; want the 2 newest", got, err)
	}
	// The other endpoint has its own deliveries of the same events.
	otherLog := mustDeliveries(t, s, other.ID)
	for i := range min(len(log), len(otherLog)) {
		if otherLog[i].EventID != log[i].EventID || otherLog[i].ID == log[i].ID {
			t.Errorf("event %d: the endpoints' deliveries are %+v and %+v, want the same event, distinct deliveries", i, log[i], otherLog[i])
		}
	}
}

func testWebhookConcurrentClaimers(t *testing.T, s WebhookStoreUnderTest) {
	const (
		users, perUser = 10, 5
		hooks          = 2
		claimers       = 20
	)
	for range hooks {
		addHook(t, s, domain.WebhookAllEvents)
	}
	for i := range users {
		u := newUser(t, uniqueNickname("c")+"@example.com", uniqueNickname("c"), domain.RoleAnonymous, epoch.Add(time.Duration(i)*time.Second))
		for range perUser {
			u.Record(domain.AuditEvent{Type: domain.EventUserUpdated})
		}
		mustCreate(t, s, u)
	}
	now := epoch.Add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	claimed := make([][]ports.ClaimedDelivery, claimers)
	errs := runConcurrently(claimers, func(i int) error {
		for {
			got, err := s.ClaimDeliveries(ctx, now, 3, lease)
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return nil
			}
			if len(got) > 3 {
				return fmt.Errorf("claimed %d deliveries with limit 3", len(got))
			}
			claimed[i] = append(claimed[i], got...)
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("ClaimDeliveries: %v", err)
		}
	}
	seen := make(map[string]int)
	pairs := make(map[string]bool) // event and endpoint
	for _, batch := range claimed {
		for _, d := range batch {
			seen[d.ID]++
			pairs[d.Event.ID+" "+d.Webhook.ID] = true
			if d.Attempts != 1 {
				t.Errorf("delivery %s: Attempts = %d, want 1", d.ID, d.Attempts)
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times, want once", id, n)
		}
	}
	if want := users * perUser * hooks; len(seen) != want || len(pairs) != want {
		t.Errorf("%d distinct deliveries (%d event-endpoint pairs) claimed, want %d", len(seen), len(pairs), want)
	}
	assertNoDelivery(t, s, now, "after the claimers finished")
}

// testWebhookDeleteRace deletes an endpoint while changes fan events out to
// it: no change fails for it, and nothing is left for the deleted endpoint.
func testWebhookDeleteRace(t *testing.T, s WebhookStoreUnderTest) {
	const changes = 20
	kept := addHook(t, s, domain.WebhookAllEvents)
	gone := addHook(t, s, domain.WebhookAllEvents)
	u := newUser(t, "racing@example.com", "racing", domain.RoleAnonymous, epoch)
	mustCreate(t, s, u)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	errs := runConcurrently(changes+1, func(i int) error {
		if i == changes {
			return s.DeleteWebhook(ctx, gone.ID)
		}
		return s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			cur.Record(domain.AuditEvent{Type: domain.EventUserUpdated, At: epoch.Add(time.Second)})
			return nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	got := mustClaimDeliveries(t, s, epoch.Add(time.Minute), 1000, lease)
	for _, d := range got {
		if d.Webhook.ID != kept.ID {
			t.Errorf("a delivery to the deleted endpoint survived: %+v", d)
		}
	}
	if len(got) != changes {
		t.Errorf("claimed %d deliveries to the kept endpoint, want %d", len(got), changes)
	}
}

func testWebhookCancelledContext(t *testing.T, s WebhookStoreUnderTest) {
	hook := addHook(t, s, domain.WebhookAllEvents)
	recordOn(t, s, epoch, domain.EventUserRegistered)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", method)
		} else if errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s with a cancelled context: error = %v, must not be a not-found error", method, err)
		}
	}
	_, err := s.ClaimDeliveries(ctx, epoch, 10, lease)
	check("ClaimDeliveries", err)
	check("CreateWebhook", s.CreateWebhook(ctx, domain.Webhook{ID: uuid.NewString(), URL: "https://x.example.com", Events: []domain.WebhookEventType{"*"}, SealedSecret: "s", CreatedAt: epoch}))
	_, err = s.ListWebhooks(ctx)
	check("ListWebhooks", err)
	_, err = s.ListDeliveries(ctx, hook.ID, 10)
	check("ListDeliveries", err)
	check("DeleteWebhook", s.DeleteWebhook(ctx, hook.ID))
	// Nothing was claimed, created or deleted: the delivery comes now, on
	// its first attempt, to the one endpoint.
	got := mustClaimDeliveries(t, s, epoch, 10, lease)
	if len(got) != 1 || got[0].Attempts != 1 || got[0].Webhook.ID != hook.ID {
		t.Errorf("after cancelled calls, claimed %+v; want the delivery on its first attempt", got)
	}
	check("MarkDelivered", s.MarkDelivered(ctx, got[0].ID, epoch, 200))
	check("MarkDeliveryRetry", s.MarkDeliveryRetry(ctx, got[0].ID, epoch, 500, "x"))
	check("MarkDeliveryFailed", s.MarkDeliveryFailed(ctx, got[0].ID, epoch, 500, "x"))
	if hooks, err := s.ListWebhooks(t.Context()); err != nil || len(hooks) != 1 {
		t.Errorf("after cancelled calls, ListWebhooks = %+v, %v; want the one endpoint", hooks, err)
	}
}
