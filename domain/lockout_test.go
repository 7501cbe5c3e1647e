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
	a := begin(tb, u, now, p)
	locked, _ := u.EndLoginAttempt(a, passwordOK, now, p)
	return locked
}

// begin admits an attempt that must be admitted.
func begin(tb testing.TB, u *domain.User, now time.Time, p domain.LockoutPolicy) domain.LoginAttempt {
	tb.Helper()
	a, err := u.BeginLoginAttempt(now, p)
	if err != nil {
		tb.Fatalf("BeginLoginAttempt: %v", err)
	}
	return a
}

// beginErr admits an attempt and returns only the error.
func beginErr(u *domain.User, now time.Time, p domain.LockoutPolicy) error {
	_, err := u.BeginLoginAttempt(now, p)
	return err
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
	if st.TokenVersion != 0 || st.LockReason != domain.LockByFailures {
		t.Errorf("token version = %d, reason %q; want 0, failed_logins: a lock by wrong passwords ends no session", st.TokenVersion, st.LockReason)
	}
}

func TestLockoutRefusesWhileLocked(t *testing.T) {
	t.Parallel()
	u := lockedUser(t, policy)
	for _, now := range []time.Time{t0, t0.Add(policy.Duration - time.Nanosecond)} {
		if err := beginErr(u, now, policy); !errors.Is(err, domain.ErrAccountLocked) {
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
	if err := beginErr(u, t0.Add(policy.Duration), policy); err != nil {
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
	if err := beginErr(u, t0.Add(10*365*24*time.Hour), manual); !errors.Is(err, domain.ErrAccountLocked) {
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
	var held []domain.LoginAttempt
	for range policy.MaxAttempts {
		held = append(held, begin(t, u, t0, policy))
	}
	if err := beginErr(u, t0, policy); !errors.Is(err, domain.ErrLoginBusy) {
		t.Fatalf("BeginLoginAttempt with every slot taken = %v, want ErrLoginBusy", err)
	}
	// A failure uses its slot up: one counted failure and two in flight.
	if _, err := u.EndLoginAttempt(held[0], false, t0, policy); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("EndLoginAttempt of a wrong password = %v, want ErrWrongPassword", err)
	}
	if err := beginErr(u, t0, policy); !errors.Is(err, domain.ErrLoginBusy) {
		t.Fatalf("BeginLoginAttempt after a failure = %v, want ErrLoginBusy", err)
	}
	// An abandoned attempt gives its slot back and counts nothing.
	u.AbandonLoginAttempt()
	if st := u.State(); st.FailedLoginAttempts != 1 || st.LoginsInFlight != 1 {
		t.Fatalf("after abandon: count %d, in flight %d; want 1, 1", st.FailedLoginAttempts, st.LoginsInFlight)
	}
	next := begin(t, u, t0, policy)
	// A success frees every slot it counted against.
	if _, err := u.EndLoginAttempt(next, true, t0, policy); err != nil {
		t.Fatalf("EndLoginAttempt of the right password = %v", err)
	}
	if st := u.State(); st.FailedLoginAttempts != 0 || st.LoginsInFlight != 1 {
		t.Fatalf("after success: count %d, in flight %d; want 0, 1", st.FailedLoginAttempts, st.LoginsInFlight)
	}
	begin(t, u, t0, policy)
}

func TestLockoutAbandonNeverGoesNegative(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	a := begin(t, u, t0, policy)
	u.AbandonLoginAttempt()
	u.AbandonLoginAttempt()
	_, _ = u.EndLoginAttempt(a, true, t0, policy)
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
				begin(t, u, t0, policy)
			}
			err := beginErr(u, t0.Add(tt.after), policy)
			if !errors.Is(err, tt.want) {
				t.Fatalf("BeginLoginAttempt = %v, want %v", err, tt.want)
			}
			st := u.State()
			if st.FailedLoginAttempts != tt.wantCount || st.IsLocked != tt.wantLocked {
				t.Errorf("count %d, locked %v; want %d, %v", st.FailedLoginAttempts, st.IsLocked, tt.wantCount, tt.wantLocked)
			}
			if tt.wantLocked && (st.TokenVersion != 0 || st.LockReason != domain.LockByFailures) {
				t.Errorf("token version = %d, reason %q; want 0, failed_logins", st.TokenVersion, st.LockReason)
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
	a := begin(t, u, t0, p)
	late := t0.Add(2 * time.Minute)
	if err := beginErr(u, late, p); !errors.Is(err, domain.ErrAccountLocked) {
		t.Fatalf("BeginLoginAttempt after the lease = %v, want ErrAccountLocked", err)
	}
	if locked, err := u.EndLoginAttempt(a, true, late, p); locked || !errors.Is(err, domain.ErrAccountLocked) {
		t.Errorf("EndLoginAttempt = %v, %v; want no second lock, ErrAccountLocked", locked, err)
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
	a1, a2 := begin(t, u, t0, p), begin(t, u, t0, p)
	if locked, _ := u.EndLoginAttempt(a1, false, t0, p); locked {
		t.Fatal("the first failure locked")
	}
	if locked, _ := u.EndLoginAttempt(a2, false, t0, p); !locked {
		t.Fatal("the second failure did not lock")
	}
	if locked, _ := u.EndLoginAttempt(a2, false, t0, p); locked {
		t.Error("a failure on a locked account reported the lock again")
	}
	if u.TokenVersion() != 0 {
		t.Errorf("token version = %d, want 0: a lock by failures ends no session", u.TokenVersion())
	}
}

// A password checked against a hash that a password change replaced
// meanwhile proves nothing: it neither counts nor logs in, and frees its slot.
func TestLockoutStaleProof(t *testing.T) {
	t.Parallel()
	for _, ok := range []bool{true, false} {
		u := verifiedUser(t)
		a := begin(t, u, t0, policy)
		if a.PasswordHash != u.PasswordHash() {
			t.Fatalf("the attempt checks %q, want the user's hash", a.PasswordHash)
		}
		u.ChangePassword("another-hash", "", t0)
		locked, err := u.EndLoginAttempt(a, ok, t0, policy)
		if locked || !errors.Is(err, domain.ErrPasswordChanged) || !errors.Is(err, domain.ErrWrongPassword) {
			t.Errorf("ok=%v: EndLoginAttempt after a password change = %v, %v; want ErrPasswordChanged", ok, locked, err)
		}
		if st := u.State(); st.FailedLoginAttempts != 0 || st.LoginsInFlight != 0 || !st.LastLoginAt.IsZero() {
			t.Errorf("ok=%v: count %d, in flight %d, last login %v; want nothing counted", ok, st.FailedLoginAttempts, st.LoginsInFlight, st.LastLoginAt)
		}
	}
	// A hash only upgraded (the same password) keeps the proof.
	u := verifiedUser(t)
	a := begin(t, u, t0, policy)
	u.UpgradePasswordHash(a.PasswordHash, "rehashed")
	if _, err := u.EndLoginAttempt(a, true, t0, policy); err != nil {
		t.Errorf("EndLoginAttempt after a hash upgrade = %v, want the proof to stand", err)
	}
}

// A lock imposed by staff ends every session and never lifts by itself; the
// owner's unlock link does not lift it either.
func TestLockByStaff(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	u.SetUnlockToken("unlock-hash", t0.Add(time.Hour))
	u.LockByStaff(t0)
	st := u.State()
	if !st.IsLocked || st.LockReason != domain.LockByStaff || st.TokenVersion != 1 || st.UnlockTokenHash != "" {
		t.Fatalf("after a staff lock: locked %v, reason %q, token version %d, unlock token %q", st.IsLocked, st.LockReason, st.TokenVersion, st.UnlockTokenHash)
	}
	if err := beginErr(u, t0.Add(100*policy.Duration), policy); !errors.Is(err, domain.ErrAccountLocked) {
		t.Errorf("BeginLoginAttempt long after a staff lock = %v, want ErrAccountLocked", err)
	}
	if err := u.UnlockWithToken("unlock-hash", t0); !errors.Is(err, domain.ErrInvalidUnlockToken) {
		t.Errorf("UnlockWithToken of a staff lock = %v, want ErrInvalidUnlockToken", err)
	}
	u.Unlock(t0.Add(time.Minute))
	if st := u.State(); st.IsLocked || st.LockReason != "" {
		t.Errorf("after Unlock: locked %v, reason %q", st.IsLocked, st.LockReason)
	}
	// A staff lock on an account locked by failures makes the lock staff's.
	v := lockedUser(t, policy)
	v.LockByStaff(t0)
	if v.LockReason() != domain.LockByStaff || v.TokenVersion() != 1 {
		t.Errorf("staff lock over a failures lock: reason %q, version %d", v.LockReason(), v.TokenVersion())
	}
}

func TestUnlockWithToken(t *testing.T) {
	t.Parallel()
	u := lockedUser(t, policy)
	u.SetUnlockToken("unlock-hash", t0.Add(24*time.Hour))
	for _, tc := range []struct {
		hash string
		at   time.Time
	}{
		{"wrong-hash", t0},
		{"", t0},
		{"unlock-hash", t0.Add(24 * time.Hour)}, // expiry is exclusive
	} {
		if err := u.UnlockWithToken(tc.hash, tc.at); !errors.Is(err, domain.ErrInvalidUnlockToken) {
			t.Errorf("UnlockWithToken(%q at %v) = %v, want ErrInvalidUnlockToken", tc.hash, tc.at, err)
		}
	}
	hash, version := u.PasswordHash(), u.TokenVersion()
	if err := u.UnlockWithToken("unlock-hash", t0.Add(time.Hour)); err != nil {
		t.Fatalf("UnlockWithToken = %v", err)
	}
	st := u.State()
	if st.IsLocked || st.FailedLoginAttempts != 0 || st.UnlockTokenHash != "" || st.PasswordHash != hash || st.TokenVersion != version {
		t.Errorf("after unlock: locked %v, count %d, token %q, hash kept %v, version %d", st.IsLocked, st.FailedLoginAttempts, st.UnlockTokenHash, st.PasswordHash == hash, st.TokenVersion)
	}
	if err := u.UnlockWithToken("unlock-hash", t0.Add(time.Hour)); !errors.Is(err, domain.ErrInvalidUnlockToken) {
		t.Errorf("a second use = %v, want ErrInvalidUnlockToken: single use", err)
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

func TestOnlyLoginBookkeeping(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	before := u.State()
	a := begin(t, u, t0, policy)
	if !domain.OnlyLoginBookkeeping(before, u.State()) {
		t.Error("an admission changed more than the bookkeeping")
	}
	mid := u.State()
	_, _ = u.EndLoginAttempt(a, false, t0, policy)
	if !domain.OnlyLoginBookkeeping(mid, u.State()) {
		t.Error("a counted failure changed more than the bookkeeping")
	}
	mid = u.State()
	_, _ = u.EndLoginAttempt(begin(t, u, t0.Add(time.Minute), policy), true, t0.Add(time.Minute), policy)
	if domain.OnlyLoginBookkeeping(mid, u.State()) {
		t.Error("a login (last_login_at) counted as bookkeeping only")
	}
	v := verifiedUser(t)
	for range policy.MaxAttempts - 1 {
		attempt(t, v, t0, false, policy)
	}
	mid = v.State()
	attempt(t, v, t0, false, policy) // locks
	if !v.IsLocked() || domain.OnlyLoginBookkeeping(mid, v.State()) {
		t.Error("a lock counted as bookkeeping only")
	}
}
