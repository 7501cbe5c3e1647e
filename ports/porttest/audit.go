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

// AuditStoreUnderTest is a user store that is also the audit log the events
// recorded on its users go to.
type AuditStoreUnderTest interface {
	ports.UserStore
	ports.AuditLog
}

// AuditLog runs the ports.AuditLog contract, and the UserStore's part of it
// (the events recorded on a user are saved if and only if the change
// commits), as named subtests. newStore must return an empty store that no
// other subtest uses; it may register cleanup on t.
//
// Beyond the port's comments, the suite requires that the store gives each
// event a UUID id that sorts in saving order, that an event recorded on a
// user without a time gets the user's UpdatedAt, that RecordEvent refuses an
// event without a time (domain.ErrInvalid), that a limit of zero or less
// means 50, and that a cursor that is not an event id is domain.ErrInvalid.
func AuditLog(t *testing.T, newStore func(t *testing.T) AuditStoreUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s AuditStoreUnderTest)
	}{
		{"SavedWithUserChanges", testAuditWithUserChanges},
		{"RolledBackChangesSaveNoEvent", testAuditRolledBack},
		{"RecordEvent", testAuditRecordEvent},
		{"Filters", testAuditFilters},
		{"NewestFirstByID", testAuditNewestFirst},
		{"CursorPagination", testAuditPagination},
		{"Limit", testAuditLimit},
		{"CancelledContext", testAuditCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func testAuditWithUserChanges(t *testing.T, s AuditStoreUnderTest) {
	ctx := t.Context()
	admin := uuid.NewString()
	u := newUser(t, "audited@example.com", "audited", domain.RoleAnonymous, epoch)
	// No time: the store uses the user's UpdatedAt (here its creation).
	registered := domain.AuditEvent{Type: domain.EventUserRegistered, ActorID: u.ID(), TargetID: u.ID(), IP: "192.0.2.1"}
	u.Record(registered)
	mustCreate(t, s, u)
	if left := u.TakeEvents(); len(left) != 0 {
		t.Errorf("after CreateUser %d events are still recorded on the user, want the store to take them", len(left))
	}
	registered.At = epoch

	later := epoch.Add(time.Minute)
	verified := domain.AuditEvent{Type: domain.EventEmailVerified, ActorID: u.ID(), TargetID: u.ID(), IP: "2001:db8::1", At: later}
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.MarkEmailVerified(later)
		cur.Record(verified)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	latest := epoch.Add(2 * time.Minute)
	promoted := domain.AuditEvent{Type: domain.EventRoleChanged, ActorID: admin, TargetID: u.ID(), At: latest, Detail: "role AUTHENTICATED -> MANAGER"}
	// No time again: UpdatedAt, which the change moved to latest.
	promotedNoTime := promoted
	promotedNoTime.At = time.Time{}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.SetRole(domain.RoleManager, latest)
		cur.Record(promotedNoTime)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUserCountingAdmins: %v", err)
	}
	gone := epoch.Add(3 * time.Minute)
	deleted := domain.AuditEvent{Type: domain.EventUserDeleted, ActorID: admin, TargetID: u.ID(), At: gone, Detail: "by an admin"}
	if err := s.DeleteUser(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(deleted)
		return nil
	}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	// The events outlive the user.
	got := mustList(t, s, ports.AuditFilter{TargetID: u.ID()})
	assertEvents(t, got, deleted, promoted, verified, registered)
	ids := make(map[string]bool)
	for _, e := range got {
		if _, err := uuid.Parse(e.ID); err != nil {
			t.Errorf("event id %q is not a UUID", e.ID)
		}
		ids[e.ID] = true
	}
	if len(ids) != len(got) {
		t.Errorf("%d events share %d ids", len(got), len(ids))
	}
}

func testAuditRolledBack(t *testing.T, s AuditStoreUnderTest) {
	ctx := t.Context()
	u := newUser(t, "rolled@example.com", "rolled", domain.RoleAdmin, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, newUser(t, "taken@example.com", "taken", domain.RoleAnonymous, epoch))
	later := epoch.Add(time.Minute)
	errBoom := errors.New("boom")
	e := domain.AuditEvent{Type: domain.EventUserUpdated, ActorID: u.ID(), TargetID: u.ID(), At: later, Detail: "rolled back"}

	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.UpgradeToProfessional(later)
		cur.Record(e)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser error = %v, want the closure's error", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(e)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUserCountingAdmins error = %v, want the closure's error", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Record(e)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("DeleteUser error = %v, want the check's error", err)
	}
	// The closure succeeds but the save fails on a unique index.
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Record(e)
		return cur.ChangeEmail("taken@example.com", later)
	}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("UpdateUser to a taken email: error = %v, want ErrEmailTaken", err)
	}
	dup := newUser(t, "taken@example.com", "dup", domain.RoleAnonymous, epoch)
	dup.Record(e)
	if err := s.CreateUser(ctx, dup); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("CreateUser with a taken email: error = %v, want ErrEmailTaken", err)
	}
	if got := mustList(t, s, ports.AuditFilter{}); len(got) != 0 {
		t.Errorf("rolled-back changes saved %d events: %+v", len(got), got)
	}
	assertUser(t, s, u.State())
}

func testAuditRecordEvent(t *testing.T, s AuditStoreUnderTest) {
	ctx := t.Context()
	at := time.Date(2024, 1, 2, 3, 4, 5, 987654321, time.FixedZone("CEST", 2*60*60))
	full := domain.AuditEvent{
		Type: domain.EventLoginFailed, ActorID: uuid.NewString(), TargetID: uuid.NewString(),
		IP: "203.0.113.9", At: at, Detail: "wrong password — 'quoted' ✓",
	}
	anonymous := domain.AuditEvent{Type: domain.EventLoginFailed, IP: "203.0.113.10", At: at.Add(time.Second)}
	for _, e := range []domain.AuditEvent{full, anonymous} {
		if err := s.RecordEvent(ctx, e); err != nil {
			t.Fatalf("RecordEvent(%+v): %v", e, err)
		}
	}
	got := mustList(t, s, ports.AuditFilter{})
	assertEvents(t, got, anonymous, full)
	for _, e := range got {
		if e.At.Location() != time.UTC {
			t.Errorf("event %s: At %v is not in UTC", e.ID, e.At)
		}
	}
	if err := s.RecordEvent(ctx, domain.AuditEvent{Type: domain.EventLogout}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("RecordEvent without a time: error = %v, want one wrapping ErrInvalid", err)
	}
	if got := mustList(t, s, ports.AuditFilter{}); len(got) != 2 {
		t.Errorf("%d events after a refused RecordEvent, want 2", len(got))
	}
}

// auditFixture records a known set of events and returns them oldest first.
func auditFixture(tb testing.TB, s AuditStoreUnderTest) (alice, bob, carol string, all []domain.AuditEvent) {
	tb.Helper()
	alice, bob, carol = uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := func(m int) time.Time { return epoch.Add(time.Duration(m) * time.Minute) }
	all = []domain.AuditEvent{
		{Type: domain.EventLoginSucceeded, ActorID: alice, TargetID: alice, At: at(0)},
		{Type: domain.EventLoginFailed, TargetID: bob, At: at(1), Detail: "anonymous"},
		{Type: domain.EventRoleChanged, ActorID: alice, TargetID: bob, At: at(2)},
		{Type: domain.EventLoginSucceeded, ActorID: bob, TargetID: bob, At: at(3)},
		{Type: domain.EventUserDeleted, ActorID: alice, TargetID: carol, At: at(4)},
		{Type: domain.EventRoleChanged, ActorID: bob, TargetID: alice, At: at(5)},
		{Type: domain.EventLoginFailed, At: at(6), Detail: "unknown email"},
		{Type: domain.EventLoginSucceeded, ActorID: alice, TargetID: alice, At: at(7)},
	}
	for _, e := range all {
		if err := s.RecordEvent(context.Background(), e); err != nil {
			tb.Fatalf("RecordEvent: %v", err)
		}
	}
	return alice, bob, carol, all
}

func testAuditFilters(t *testing.T, s AuditStoreUnderTest) {
	alice, bob, carol, all := auditFixture(t, s)
	pick := func(idx ...int) []domain.AuditEvent { // newest first
		out := make([]domain.AuditEvent, 0, len(idx))
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, all[idx[i]])
		}
		return out
	}
	at := func(m int) time.Time { return epoch.Add(time.Duration(m) * time.Minute) }
	for _, tc := range []struct {
		name string
		f    ports.AuditFilter
		want []domain.AuditEvent
	}{
		{"none", ports.AuditFilter{}, pick(0, 1, 2, 3, 4, 5, 6, 7)},
		{"actor", ports.AuditFilter{ActorID: alice}, pick(0, 2, 4, 7)},
		{"target", ports.AuditFilter{TargetID: bob}, pick(1, 2, 3)},
		{"target of a deleted user", ports.AuditFilter{TargetID: carol}, pick(4)},
		{"type", ports.AuditFilter{Type: domain.EventLoginFailed}, pick(1, 6)},
		{"since is inclusive", ports.AuditFilter{Since: at(5)}, pick(5, 6, 7)},
		{"until is exclusive", ports.AuditFilter{Until: at(2)}, pick(0, 1)},
		{"since and until", ports.AuditFilter{Since: at(2), Until: at(5)}, pick(2, 3, 4)},
		{"actor and type", ports.AuditFilter{ActorID: alice, Type: domain.EventLoginSucceeded}, pick(0, 7)},
		{"actor and target", ports.AuditFilter{ActorID: bob, TargetID: bob}, pick(3)},
		{"target, type and time", ports.AuditFilter{TargetID: alice, Type: domain.EventLoginSucceeded, Since: at(1)}, pick(7)},
		{"everything", ports.AuditFilter{ActorID: alice, TargetID: bob, Type: domain.EventRoleChanged, Since: at(2), Until: at(3)}, pick(2)},
		{"no match", ports.AuditFilter{ActorID: carol}, nil},
		{"unknown type", ports.AuditFilter{Type: "no_such_event"}, nil},
		{"empty window", ports.AuditFilter{Since: at(3), Until: at(3)}, nil},
		{"time zone of the bounds", ports.AuditFilter{Since: at(6).In(time.FixedZone("X", -5*60*60))}, pick(6, 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertEvents(t, mustList(t, s, tc.f), tc.want...)
		})
	}
	// Mixed-case ids name the same user.
	upper := ports.AuditFilter{ActorID: strings.ToUpper(alice)}
	assertEvents(t, mustList(t, s, upper), pick(0, 2, 4, 7)...)
}

func testAuditNewestFirst(t *testing.T, s AuditStoreUnderTest) {
	// Recorded with times running backwards: the order is the recording
	// order (the ids), not the times.
	var want []domain.AuditEvent
	for i := range 5 {
		e := domain.AuditEvent{Type: domain.EventLogout, Detail: fmt.Sprint(i), At: epoch.Add(-time.Duration(i) * time.Hour)}
		if err := s.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
		want = append([]domain.AuditEvent{e}, want...)
	}
	got := mustList(t, s, ports.AuditFilter{})
	assertEvents(t, got, want...)
	if !slices.IsSortedFunc(got, func(a, b domain.AuditEvent) int { return -compareIDs(a.ID, b.ID) }) {
		t.Errorf("events are not in descending id order: %v", eventIDs(got))
	}
}

func testAuditPagination(t *testing.T, s AuditStoreUnderTest) {
	const n, page = 23, 5
	u := uuid.NewString()
	for i := range n {
		e := domain.AuditEvent{Type: domain.EventLoginFailed, At: epoch.Add(time.Duration(i) * time.Second), Detail: fmt.Sprint(i)}
		if i%2 == 0 {
			e.TargetID = u
		}
		if err := s.RecordEvent(t.Context(), e); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
	}
	walk := func(f ports.AuditFilter) []domain.AuditEvent {
		t.Helper()
		all := mustList(t, s, ports.AuditFilter{ActorID: f.ActorID, TargetID: f.TargetID, Limit: 1000})
		var got []domain.AuditEvent
		for range n + 1 {
			p := mustList(t, s, f)
			if len(p) > f.Limit {
				t.Fatalf("a page of %d events with limit %d", len(p), f.Limit)
			}
			got = append(got, p...)
			if len(p) < f.Limit {
				break
			}
			f.Before = p[len(p)-1].ID
		}
		if diff := gocmp.Diff(eventIDs(all), eventIDs(got)); diff != "" {
			t.Errorf("pages (-one listing +walk):\n%s", diff)
		}
		return got
	}
	if got := walk(ports.AuditFilter{Limit: page}); len(got) != n {
		t.Errorf("walked %d events, want %d", len(got), n)
	}
	if got := walk(ports.AuditFilter{TargetID: u, Limit: page}); len(got) != (n+1)/2 {
		t.Errorf("walked %d filtered events, want %d", len(got), (n+1)/2)
	}
	// A cursor naming no event still works as a position: the smallest
	// UUID lies before every event, the largest after.
	if got := mustList(t, s, ports.AuditFilter{Before: "00000000-0000-0000-0000-000000000000"}); len(got) != 0 {
		t.Errorf("events before the smallest id: %d, want 0", len(got))
	}
	if got := mustList(t, s, ports.AuditFilter{Before: "ffffffff-ffff-ffff-ffff-ffffffffffff", Limit: 100}); len(got) != n {
		t.Errorf("events before the largest id: %d, want %d", len(got), n)
	}
	for _, bad := range []string{"not-a-cursor", "12345", "' OR 1=1 --"} {
		if _, err := s.ListEvents(t.Context(), ports.AuditFilter{Before: bad}); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ListEvents with cursor %q: error = %v, want one wrapping ErrInvalid", bad, err)
		}
	}
}

func testAuditLimit(t *testing.T, s AuditStoreUnderTest) {
	const n = 55
	for i := range n {
		if err := s.RecordEvent(t.Context(), domain.AuditEvent{Type: domain.EventLogout, At: epoch, Detail: fmt.Sprint(i)}); err != nil {
			t.Fatalf("RecordEvent: %v", err)
		}
	}
	for limit, want := range map[int]int{0: 50, -1: 50, 1: 1, 7: 7, 50: 50, 54: 54, 55: 55, 56: 55, 1000: 55, 5000: 55} {
		if got := mustList(t, s, ports.AuditFilter{Limit: limit}); len(got) != want {
			t.Errorf("ListEvents with limit %d: %d events, want %d", limit, len(got), want)
		}
	}
	newest := mustList(t, s, ports.AuditFilter{Limit: 1})
	if len(newest) == 1 && newest[0].Detail != fmt.Sprint(n-1) {
		t.Errorf("limit 1 returned event %q, want the newest %q", newest[0].Detail, fmt.Sprint(n-1))
	}
}

func testAuditCancelledContext(t *testing.T, s AuditStoreUnderTest) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := domain.AuditEvent{Type: domain.EventLogout, At: epoch}
	if err := s.RecordEvent(ctx, e); err == nil || errors.Is(err, domain.ErrInvalid) {
		t.Errorf("RecordEvent with a cancelled context: error = %v, want a context error", err)
	}
	if _, err := s.ListEvents(ctx, ports.AuditFilter{}); err == nil || errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ListEvents with a cancelled context: error = %v, want a context error", err)
	}
	u := newUser(t, "cancelled@example.com", "cancelled", domain.RoleAnonymous, epoch)
	u.Record(e)
	if err := s.CreateUser(ctx, u); err == nil {
		t.Error("CreateUser with a cancelled context succeeded")
	}
	if got := mustList(t, s, ports.AuditFilter{}); len(got) != 0 {
		t.Errorf("%d events saved under a cancelled context, want none", len(got))
	}
}

func mustList(tb testing.TB, s AuditStoreUnderTest, f ports.AuditFilter) []domain.AuditEvent {
	tb.Helper()
	got, err := s.ListEvents(context.Background(), f)
	if err != nil {
		tb.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return got
}

// assertEvents compares listed events with want, in order, ignoring the ids
// the store assigned (which must be set) and comparing times at microsecond
// precision.
func assertEvents(tb testing.TB, got []domain.AuditEvent, want ...domain.AuditEvent) {
	tb.Helper()
	for _, e := range got {
		if e.ID == "" {
			tb.Errorf("listed event %+v has no id", e)
		}
	}
	opts := gocmp.Options{cmpopts.IgnoreFields(domain.AuditEvent{}, "ID"), cmpopts.EquateEmpty(), gocmp.Comparer(sameTime)}
	if diff := gocmp.Diff(want, got, opts); diff != "" {
		tb.Errorf("events (-want +got):\n%s", diff)
	}
}

func eventIDs(events []domain.AuditEvent) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

// compareIDs orders UUIDs as stores do: by their bytes.
func compareIDs(a, b string) int {
	ua, erra := uuid.Parse(a)
	ub, errb := uuid.Parse(b)
	if erra != nil || errb != nil {
		return 0
	}
	return slices.Compare(ua[:], ub[:])
}
