package porttest

import (
	"context"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// StatsStoreUnderTest is a user store that is also the audit log and the
// counts of the console's dashboard.
type StatsStoreUnderTest interface {
	ports.UserStore
	ports.AuditLog
	ports.UserStats
}

// UserStats runs the ports.UserStats contract as named subtests. newStore
// must return an empty store that no other subtest uses.
func UserStats(t *testing.T, newStore func(t *testing.T) StatsStoreUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s StatsStoreUnderTest)
	}{
		{"Empty", testStatsEmpty},
		{"CountUsers", testStatsCountUsers},
		{"SignupsByUTCDay", testStatsSignups},
		{"EventsByUTCDayAndType", testStatsEvents},
		{"CancelledContext", testStatsCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func zeroRoles() map[domain.Role]int {
	m := map[domain.Role]int{}
	for _, r := range domain.Roles() {
		m[r] = 0
	}
	return m
}

func testStatsEmpty(t *testing.T, s StatsStoreUnderTest) {
	ctx := t.Context()
	c, err := s.CountUsers(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(ports.UserCounts{ByRole: zeroRoles()}, c); diff != "" {
		t.Errorf("CountUsers of an empty store (-want +got):\n%s", diff)
	}
	days, err := s.CountSignupsByDay(ctx, epoch.Add(-365*24*time.Hour))
	if err != nil || len(days) != 0 {
		t.Errorf("CountSignupsByDay of an empty store = %v, %v; want none", days, err)
	}
	events, err := s.CountEventsByDay(ctx, epoch.Add(-365*24*time.Hour), domain.AuditEvents())
	if err != nil || len(events) != 0 {
		t.Errorf("CountEventsByDay of an empty store = %v, %v; want none", events, err)
	}
}

// statsUser creates a user whose state edit changes before it is stored.
func statsUser(t *testing.T, s ports.UserStore, email string, role domain.Role, created time.Time, edit func(st *domain.UserState)) {
	t.Helper()
	u := newUser(t, email, strings.Split(email, "@")[0], role, created)
	st := u.State()
	if edit != nil {
		edit(&st)
	}
	mustCreate(t, s, domain.RehydrateUser(st))
}

func testStatsCountUsers(t *testing.T, s StatsStoreUnderTest) {
	ctx := t.Context()
	statsUser(t, s, "anon@example.com", domain.RoleAnonymous, epoch, nil)
	statsUser(t, s, "verified@example.com", domain.RoleAuthenticated, epoch, func(st *domain.UserState) { st.EmailVerified = true })
	statsUser(t, s, "locked@example.com", domain.RoleAuthenticated, epoch, func(st *domain.UserState) {
		st.EmailVerified, st.IsLocked, st.LockReason, st.LockedAt = true, true, domain.LockByFailures, epoch
	})
	statsUser(t, s, "mfa@example.com", domain.RoleManager, epoch, func(st *domain.UserState) {
		st.EmailVerified, st.TOTPSecret, st.IsProfessional, st.ProfessionalStatusUpdatedAt = true, "sealed-secret", true, epoch
	})
	// A pending enrolment is no second factor.
	statsUser(t, s, "pending@example.com", domain.RoleAdmin, epoch, func(st *domain.UserState) {
		st.EmailVerified, st.TOTPPendingSecret = true, "sealed-pending"
	})
	statsUser(t, s, "invited@example.com", domain.RoleAdmin, epoch, func(st *domain.UserState) {
		st.PasswordHash, st.InvitationPending = "", true
	})
	c, err := s.CountUsers(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := ports.UserCounts{
		Total: 6,
		ByRole: map[domain.Role]int{
			domain.RoleAnonymous: 1, domain.RoleAuthenticated: 2, domain.RoleManager: 1, domain.RoleAdmin: 2,
		},
		Verified: 4, Locked: 1, MFAEnabled: 1, Professional: 1, InvitationPending: 1,
	}
	if diff := gocmp.Diff(want, c); diff != "" {
		t.Errorf("CountUsers (-want +got):\n%s", diff)
	}

	// A lock by failed logins taken at or before the cutoff has lapsed; a
	// later one, or one by staff, has not.
	statsUser(t, s, "recent@example.com", domain.RoleAnonymous, epoch, func(st *domain.UserState) {
		st.IsLocked, st.LockReason, st.LockedAt = true, domain.LockByFailures, epoch.Add(2*time.Hour)
	})
	statsUser(t, s, "staff@example.com", domain.RoleAnonymous, epoch, func(st *domain.UserState) {
		st.IsLocked, st.LockReason, st.LockedAt = true, domain.LockByStaff, epoch
	})
	for _, tc := range []struct {
		cutoff time.Time
		locked int
	}{{time.Time{}, 3}, {epoch.Add(time.Hour), 2}, {epoch.Add(2 * time.Hour), 1}} {
		c, err := s.CountUsers(ctx, tc.cutoff)
		if err != nil {
			t.Fatal(err)
		}
		if c.Locked != tc.locked {
			t.Errorf("CountUsers(locks lapsed at %v): %d locked, want %d", tc.cutoff, c.Locked, tc.locked)
		}
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func testStatsSignups(t *testing.T, s StatsStoreUnderTest) {
	ctx := t.Context()
	since := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	// Times in another zone count on their UTC day.
	paris := time.FixedZone("UTC+2", 2*60*60)
	for i, at := range []time.Time{
		since.Add(-time.Microsecond), // before since: not counted
		since,                        // 1 May
		time.Date(2024, 5, 1, 23, 59, 59, 999999000, time.UTC),        // 1 May
		time.Date(2024, 5, 2, 1, 30, 0, 0, paris),                     // 1 May 23:30 UTC
		time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC),                   // 2 May
		time.Date(2024, 5, 4, 8, 0, 0, 0, time.UTC),                   // 4 May
		time.Date(2024, 5, 4, 9, 0, 0, 0, time.UTC).In(paris),         // 4 May
		time.Date(2024, 5, 4, 10, 0, 0, 0, time.UTC).Add(time.Second), // 4 May
	} {
		statsUser(t, s, "signup"+string(rune('a'+i))+"@example.com", domain.RoleAnonymous, at, nil)
	}
	got, err := s.CountSignupsByDay(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []ports.DayCount{{Day: day(2024, 5, 1), Count: 3}, {Day: day(2024, 5, 2), Count: 1}, {Day: day(2024, 5, 4), Count: 3}}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("CountSignupsByDay (-want +got):\n%s", diff)
	}
	for _, d := range got {
		if d.Day.Location() != time.UTC {
			t.Errorf("day %v is not in UTC", d.Day)
		}
	}
}

func testStatsEvents(t *testing.T, s StatsStoreUnderTest) {
	ctx := t.Context()
	since := day(2024, 5, 1)
	record := func(typ domain.AuditEventType, at time.Time) {
		t.Helper()
		if err := s.RecordEvent(ctx, domain.AuditEvent{Type: typ, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	record(domain.EventLoginSucceeded, since.Add(-time.Second)) // before since
	record(domain.EventLoginSucceeded, since)
	record(domain.EventLoginSucceeded, since.Add(time.Hour))
	record(domain.EventLoginFailed, since.Add(2*time.Hour))
	record(domain.EventLogout, since.Add(3*time.Hour)) // a type not asked for
	record(domain.EventLoginFailed, day(2024, 5, 3).Add(23*time.Hour+59*time.Minute))
	record(domain.EventAccountLocked, day(2024, 5, 3).Add(12*time.Hour))
	record(domain.EventLoginSucceeded, day(2024, 5, 4))

	types := []domain.AuditEventType{domain.EventLoginSucceeded, domain.EventLoginFailed, domain.EventAccountLocked}
	got, err := s.CountEventsByDay(ctx, since, types)
	if err != nil {
		t.Fatal(err)
	}
	want := []ports.EventDayCount{
		{Day: day(2024, 5, 1), Type: domain.EventLoginFailed, Count: 1},
		{Day: day(2024, 5, 1), Type: domain.EventLoginSucceeded, Count: 2},
		{Day: day(2024, 5, 3), Type: domain.EventAccountLocked, Count: 1},
		{Day: day(2024, 5, 3), Type: domain.EventLoginFailed, Count: 1},
		{Day: day(2024, 5, 4), Type: domain.EventLoginSucceeded, Count: 1},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("CountEventsByDay (-want +got):\n%s", diff)
	}
	got, err = s.CountEventsByDay(ctx, since, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("CountEventsByDay with no types = %v, %v; want none", got, err)
	}
}

func testStatsCancelled(t *testing.T, s StatsStoreUnderTest) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CountUsers(ctx, time.Time{}); err == nil {
		t.Errorf("CountUsers with a cancelled context: %v, want a context error", err)
	}
	if _, err := s.CountSignupsByDay(ctx, epoch); err == nil {
		t.Errorf("CountSignupsByDay with a cancelled context: %v, want a context error", err)
	}
	if _, err := s.CountEventsByDay(ctx, epoch, []domain.AuditEventType{domain.EventLoginFailed}); err == nil {
		t.Errorf("CountEventsByDay with a cancelled context: %v, want a context error", err)
	}
}
