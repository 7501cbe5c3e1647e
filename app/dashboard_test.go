package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

func TestDashboardCountsTheLastThirtyDays(t *testing.T) {
	t.Parallel()
	// Locks that only staff lift, so the lock below still counts a month on
	// (TestDashboardLapsedLockIsNotCounted).
	e := newEnv(t, func(d *deps) { d.cfg.Lockout.Duration = 0 })
	ctx := context.Background()
	e.register(t, "first@example.com") // on t0's day, which falls out of the window below
	e.clock.Advance(24 * time.Hour)
	e.verified(t, "ok@example.com")
	e.verified(t, "clumsy@example.com")
	if _, err := e.login("ok@example.com", goodPass); err != nil {
		t.Fatal(err)
	}
	for range maxAttempts { // the last wrong password locks the account
		if _, err := e.login("clumsy@example.com", wrongPass); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	e.clock.Advance((app.DashboardDays - 1) * 24 * time.Hour)
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)

	d, err := e.svc.Dashboard(ctx, manager)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != app.DashboardDays {
		t.Fatalf("%d days, want %d", len(d.Days), app.DashboardDays)
	}
	first, last := d.Days[0], d.Days[len(d.Days)-1]
	if want := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC); !first.Day.Equal(want) {
		t.Errorf("first day %v, want %v", first.Day, want)
	}
	if want := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC); !last.Day.Equal(want) {
		t.Errorf("last day %v, want %v (today)", last.Day, want)
	}
	if first.Signups != 2 || first.LoginsSucceeded != 1 || first.LoginsFailed != maxAttempts || first.Lockouts != 1 {
		t.Errorf("first day %+v, want 2 sign-ups, 1 login, %d failures, 1 lockout", first, maxAttempts)
	}
	if last.Signups != 1 {
		t.Errorf("today %+v, want the manager's sign-up", last)
	}
	c := d.Counts
	if c.Total != 4 || c.ByRole[domain.RoleManager] != 1 || c.Verified != 3 || c.Locked != 1 || c.MFAEnabled != 0 {
		t.Errorf("counts %+v", c)
	}

	if _, err := e.svc.Dashboard(ctx, nobodyActor); err == nil {
		t.Error("an AUTHENTICATED user read the dashboard")
	} else {
		wantErr(t, err, domain.ErrNotPermitted)
	}
}

// A lock by failed logins that has lasted LOCKOUT_DURATION has ended, and
// the dashboard counts it so.
func TestDashboardLapsedLockIsNotCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	e.verified(t, "clumsy@example.com")
	lockAccount(t, e, "clumsy@example.com")
	lockedAt := e.clock.Now()
	for _, tc := range []struct {
		after  time.Duration
		locked int
	}{{lockFor - time.Second, 1}, {lockFor, 0}} {
		e.clock.Set(lockedAt.Add(tc.after))
		d, err := e.svc.Dashboard(context.Background(), admin)
		if err != nil {
			t.Fatal(err)
		}
		if d.Counts.Locked != tc.locked {
			t.Errorf("%s after the lock: %d locked, want %d", tc.after, d.Counts.Locked, tc.locked)
		}
	}
}
