package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

var policy = domain.LockoutPolicy{MaxAttempts: 3, Duration: 15 * time.Minute, AttemptLease: time.Minute}

// verifiedUser is an AUTHENTICATED user with a verified email.
func verifiedUser(tb testing.TB) *domain.User {
	tb.Helper()
	u := newUser(tb, domain.RoleAuthenticated)
	u.MarkEmailVerified(t0)
	return u
}

// attempt runs one whole login attempt and reports whether it locked the account.
func attempt(tb testing.TB, u *domain.User, now time.Time, passwordOK bool, p domain.LockoutPolicy) bool {
	tb.Helper()
	if err := u.BeginLoginAttempt(now, p); err != nil {
		tb.Fatalf("BeginLoginAttempt: %v", err)
	}
	return u.EndLoginAttempt(now, passwordOK, p)
}

func TestLockoutCountsAndLocks(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	for i := 1; i < policy.MaxAttempts; i++ {
		if attempt(t, u, t0, false, policy) {
			t.Fatalf("failure %d locked the account", i)
		}
		if st := u.State(); st.FailedLoginAttempts != i || st.IsLocked || st.LoginsInFlight != 0 {
			t.Fatalf("after failure %d: count %d, locked %v, in flight %d", i, st.FailedLoginAttempts, st.IsLocked, st.LoginsInFlight)
		}
	}
	lockAt := t0.Add(time.Second)
	if !attempt(t, u, lockAt, false, policy) {
		t.Fatal("the failure that reaches MaxAttempts did not report the lock")
	}
	st := u.State()
	if !st.IsLocked || !u.IsLocked() || !st.LockedAt.Equal(lockAt) || st.FailedLoginAttempts != policy.MaxAttempts {
		t.Errorf("after lock: locked %v at %v, count %d", st.IsLocked, st.LockedAt, st.FailedLoginAttempts)
	}
	if st.TokenVersion != 1 {
		t.Errorf("token version = %d, want 1: a lock must end every session", st.TokenVersion)
	}
}

func TestLockoutRefusesWhileLocked(t *testing.T) {
	t.Parallel()
	u := lockedUser(t, policy)
	for _, now := range []time.Time{t0, t0.Add(policy.Duration - time.Nanosecond)} {
		if err := u.BeginLoginAttempt(now, policy); !errors.Is(err, domain.ErrAccountLocked) {
			t.Errorf("BeginLoginAttempt at %v = %v, want ErrAccountLocked", now, err)
		}
	}
	if st := u.State(); st.LoginsInFlight != 0 {
		t.Errorf("a refused attempt holds a slot: %d in flight", st.LoginsInFlight)
	}
}

func TestLockoutUnlocksAfterDuration(t *testing.T) {
	t.Parallel()
	u := lockedUser(t, policy)
	version := u.TokenVersion()
	if err := u.BeginLoginAttempt(t0.Add(policy.Duration), policy); err != nil {
		t.Fatalf("BeginLoginAttempt after Duration: %v", err)
	}
	st := u.State()
	if st.IsLocked || !st.LockedAt.IsZero() || st.FailedLoginAttempts != 0 || st.LoginsInFlight != 1 {
		t.Errorf("after automatic unlock: locked %v, count %d, in flight %d", st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight)
	}
	if st.TokenVersion != version {
		t.Errorf("unlocking changed the token version from %d to %d", version, st.TokenVersion)
	}
}

func TestLockoutDurationZeroIsManualOnly(t *testing.T) {
	t.Parallel()
	manual := domain.LockoutPolicy{MaxAttempts: 1, AttemptLease: time.Minute}
	u := lockedUser(t, manual)
	if err := u.BeginLoginAttempt(t0.Add(10*365*24*time.Hour), manual); !errors.Is(err, domain.ErrAccountLocked) {
		t.Fatalf("BeginLoginAttempt years later = %v, want ErrAccountLocked", err)
	}
	unlockAt := t0.Add(time.Hour)
	u.Unlock(unlockAt)
	st := u.State()
	if st.IsLocked || st.FailedLoginAttempts != 0 || !st.UpdatedAt.Equal(unlockAt) {
		t.Errorf("after Unlock: locked %v, count %d, updated %v", st.IsLocked, st.FailedLoginAttempts, st.UpdatedAt)
	}
	if attempt(t, u, unlockAt, true, manual) || u.IsLocked() {
		t.Error("the right password after Unlock did not log in")
	}
}

func TestLockoutSuccessResets(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	attempt(t, u, t0, false, policy)
	attempt(t, u, t0, false, policy)
	loginAt := t0.Add(time.Minute)
	if attempt(t, u, loginAt, true, policy) {
		t.Fatal("a success reported a lock")
	}
	st := u.State()
	if st.FailedLoginAttempts != 0 || !st.LastLoginAt.Equal(loginAt) {
		t.Errorf("after success: count %d, last login %v; want 0, %v", st.FailedLoginAttempts, st.LastLoginAt, loginAt)
	}
	// The count starts again: MaxAttempts more failures are needed to lock.
	attempt(t, u, loginAt, false, policy)
	attempt(t, u, loginAt, false, policy)
	if u.IsLocked() {
		t.Error("failures before a success were still counted")
	}
}

func TestLockoutSuccessOfUnverifiedUser(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAnonymous)
	attempt(t, u, t0, false, policy)
	attempt(t, u, t0, true, policy)
	st := u.State()
	if st.FailedLoginAttempts != 0 || !st.LastLoginAt.IsZero() {
		t.Errorf("count %d, last login %v; want 0 and no login stamped for an unverified email", st.FailedLoginAttempts, st.LastLoginAt)
	}
	if err := u.CheckCanLogin(); !errors.Is(err, domain.ErrEmailNotVerified) {
		t.Errorf("CheckCanLogin = %v, want ErrEmailNotVerified", err)
	}
	if err := verifiedUser(t).CheckCanLogin(); err != nil {
		t.Errorf("CheckCanLogin of a verified user = %v", err)
	}
}

func TestLockoutBusy(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	for i := range policy.MaxAttempts {
		if err := u.BeginLoginAttempt(t0, policy); err != nil {
			t.Fatalf("BeginLoginAttempt %d: %v", i+1, err)
		}
	}
	if err := u.BeginLoginAttempt(t0, policy); !errors.Is(err, domain.ErrLoginBusy) {
		t.Fatalf("BeginLoginAttempt with every slot taken = %v, want ErrLoginBusy", err)
	}
	// A failure uses its slot up: one counted failure and two in flight.
	u.EndLoginAttempt(t0, false, policy)
	if err := u.BeginLoginAttempt(t0, policy); !errors.Is(err, domain.ErrLoginBusy) {
		t.Fatalf("BeginLoginAttempt after a failure = %v, want ErrLoginBusy", err)
	}
	// An abandoned attempt gives its slot back and counts nothing.
	u.AbandonLoginAttempt()
	if st := u.State(); st.FailedLoginAttempts != 1 || st.LoginsInFlight != 1 {
		t.Fatalf("after abandon: count %d, in flight %d; want 1, 1", st.FailedLoginAttempts, st.LoginsInFlight)
	}
	if err := u.BeginLoginAttempt(t0, policy); err != nil {
		t.Fatalf("BeginLoginAttempt after abandon: %v", err)
	}
	// A success frees every slot it counted against.
	u.EndLoginAttempt(t0, true, policy)
	if st := u.State(); st.FailedLoginAttempts != 0 || st.LoginsInFlight != 1 {
		t.Fatalf("after success: count %d, in flight %d; want 0, 1", st.FailedLoginAttempts, st.LoginsInFlight)
	}
	if err := u.BeginLoginAttempt(t0, policy); err != nil {
		t.Fatalf("BeginLoginAttempt after success: %v", err)
	}
}

func TestLockoutAbandonNeverGoesNegative(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	u.AbandonLoginAttempt()
	u.EndLoginAttempt(t0, true, policy)
	if st := u.State(); st.LoginsInFlight != 0 {
		t.Errorf("in flight = %d, want 0", st.LoginsInFlight)
	}
}

func TestLockoutLeaseExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stale      int // attempts admitted at t0 and never decided
		failures   int // counted failures before them
		after      time.Duration
		want       error
		wantCount  int
		wantLocked bool
	}{
		{"within the lease the slots stay held", 3, 0, policy.AttemptLease, domain.ErrLoginBusy, 0, false},
		{"expired attempts count as failures", 2, 0, policy.AttemptLease + time.Nanosecond, nil, 2, false},
		{"expired attempts that reach the limit lock", 3, 0, policy.AttemptLease + time.Nanosecond, domain.ErrAccountLocked, 3, true},
		{"expired attempts add to counted failures", 1, 2, policy.AttemptLease + time.Nanosecond, domain.ErrAccountLocked, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := verifiedUser(t)
			for range tt.failures {
				attempt(t, u, t0, false, policy)
			}
			for range tt.stale {
				if err := u.BeginLoginAttempt(t0, policy); err != nil {
					t.Fatalf("BeginLoginAttempt: %v", err)
				}
			}
			err := u.BeginLoginAttempt(t0.Add(tt.after), policy)
			if !errors.Is(err, tt.want) {
				t.Fatalf("BeginLoginAttempt = %v, want %v", err, tt.want)
			}
			st := u.State()
			if st.FailedLoginAttempts != tt.wantCount || st.IsLocked != tt.wantLocked {
				t.Errorf("count %d, locked %v; want %d, %v", st.FailedLoginAttempts, st.IsLocked, tt.wantCount, tt.wantLocked)
			}
			if tt.wantLocked && st.TokenVersion != 1 {
				t.Errorf("token version = %d, want 1", st.TokenVersion)
			}
		})
	}
}

// A right password decided after the account locked (its attempt outlived
// the lease and was counted as a failure) must not log in.
func TestLockoutRightPasswordAfterLock(t *testing.T) {
	t.Parallel()
	p := domain.LockoutPolicy{MaxAttempts: 1, Duration: time.Hour, AttemptLease: time.Minute}
	u := verifiedUser(t)
	if err := u.BeginLoginAttempt(t0, p); err != nil {
		t.Fatalf("BeginLoginAttempt: %v", err)
	}
	late := t0.Add(2 * time.Minute)
	if err := u.BeginLoginAttempt(late, p); !errors.Is(err, domain.ErrAccountLocked) {
		t.Fatalf("BeginLoginAttempt after the lease = %v, want ErrAccountLocked", err)
	}
	if u.EndLoginAttempt(late, true, p) {
		t.Error("EndLoginAttempt reported a second lock")
	}
	st := u.State()
	if !st.IsLocked || st.FailedLoginAttempts != 1 || !st.LastLoginAt.IsZero() {
		t.Errorf("locked %v, count %d, last login %v; want still locked, 1, never", st.IsLocked, st.FailedLoginAttempts, st.LastLoginAt)
	}
	if err := u.CheckCanLogin(); !errors.Is(err, domain.ErrAccountLocked) {
		t.Errorf("CheckCanLogin = %v, want ErrAccountLocked", err)
	}
}

func TestLockoutLocksOnce(t *testing.T) {
	t.Parallel()
	p := domain.LockoutPolicy{MaxAttempts: 2, Duration: time.Hour, AttemptLease: time.Minute}
	u := verifiedUser(t)
	// Two attempts in flight; the second failure locks, a late third does not lock again.
	for range 2 {
		if err := u.BeginLoginAttempt(t0, p); err != nil {
			t.Fatal(err)
		}
	}
	if u.EndLoginAttempt(t0, false, p) {
		t.Fatal("the first failure locked")
	}
	if !u.EndLoginAttempt(t0, false, p) {
		t.Fatal("the second failure did not lock")
	}
	if u.EndLoginAttempt(t0, false, p) {
		t.Error("a failure on a locked account reported the lock again")
	}
	if u.TokenVersion() != 1 {
		t.Errorf("token version = %d, want 1", u.TokenVersion())
	}
}

// lockedUser returns a verified user locked at t0 under p.
func lockedUser(tb testing.TB, p domain.LockoutPolicy) *domain.User {
	tb.Helper()
	u := verifiedUser(tb)
	for range p.MaxAttempts {
		attempt(tb, u, t0, false, p)
	}
	if !u.IsLocked() {
		tb.Fatal("the user did not lock")
	}
	return u
}
