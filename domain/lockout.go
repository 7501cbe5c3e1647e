package domain

import (
	"crypto/subtle"
	"time"
)

// LockoutPolicy configures failed-login locking.
type LockoutPolicy struct {
	MaxAttempts int           // wrong passwords that lock the account (>= 1)
	Duration    time.Duration // automatic unlock after; 0 = manual unlock only
	// AttemptLease bounds how long an admitted attempt may stay undecided;
	// one older than that (its process died) is counted as a failure.
	AttemptLease time.Duration
}

// LockReason says why an account is locked.
type LockReason string

// The reasons for a lock. A lock by failures stops new logins only; a lock
// by staff also ends every session, and only staff lift it.
const (
	LockByFailures LockReason = "failed_logins"
	LockByStaff    LockReason = "staff"
)

// Login attempts are admitted before the password is checked and decided
// after, each step in one short storage transaction. Admission reserves
// a slot, and no more than MaxAttempts slots exist between two successes, so
// no more than MaxAttempts passwords are ever checked, however many attempts
// arrive at once, while a slow hash never runs inside a transaction.

// OnlyLoginBookkeeping reports whether after differs from before only in
// the lockout's bookkeeping (counts, slots, leases), which no reader of the
// user sees: a change that other instances need not hear of.
func OnlyLoginBookkeeping(before, after UserState) bool {
	after.FailedLoginAttempts, after.LoginsInFlight, after.LoginLeaseUntil =
		before.FailedLoginAttempts, before.LoginsInFlight, before.LoginLeaseUntil
	return after == before
}

// LoginAttempt is an admitted password check: the hash to check the
// password against, and the password it belongs to.
type LoginAttempt struct {
	PasswordHash    string
	passwordVersion int
}

// BeginLoginAttempt admits one password check. It fails with ErrNoPassword,
// changing nothing, on an account without a password; with ErrAccountLocked
// while the account is locked, and with ErrLoginBusy while every remaining
// slot is held by an undecided attempt (the caller waits and retries).
// Admission may itself lock the account (attempts whose lease ran out count
// as failures) or lift an expired lock: the change is to be saved even when
// admission fails.
func (u *User) BeginLoginAttempt(now time.Time, p LockoutPolicy) (LoginAttempt, error) {
	if err := u.admit(now, p); err != nil {
		return LoginAttempt{}, err
	}
	s := &u.s
	s.LoginsInFlight++
	s.LoginLeaseUntil = now.Add(p.AttemptLease).UTC()
	return LoginAttempt{PasswordHash: s.PasswordHash, passwordVersion: s.PasswordVersion}, nil
}

// admit is what every guess must pass before it is checked: attempts whose
// lease ran out count as failures, an expired lock is lifted, a lock
// refuses (ErrAccountLocked), and so do slots all taken (ErrLoginBusy).
func (u *User) admit(now time.Time, p LockoutPolicy) error {
	s := &u.s
	if s.PasswordHash == "" {
		// An invited account no one has accepted: nothing to check, and
		// nothing changes, so the caller can answer as for an unknown email.
		return ErrNoPassword
	}
	if s.LoginsInFlight > 0 && now.After(s.LoginLeaseUntil) {
		s.FailedLoginAttempts += s.LoginsInFlight
		s.LoginsInFlight = 0
		if s.FailedLoginAttempts >= p.MaxAttempts && !s.IsLocked {
			u.lock(now, LockByFailures)
		}
	}
	if s.IsLocked {
		if !s.LockLapsed(now, p) {
			return ErrAccountLocked
		}
		u.unlock(now)
	}
	if s.FailedLoginAttempts+s.LoginsInFlight >= p.MaxAttempts {
		return ErrLoginBusy
	}
	return nil
}

// EndLoginAttempt decides an admitted attempt whose password check said ok.
// It fails with ErrPasswordChanged, counting nothing, when the password
// changed since the attempt was admitted (the check proved an old one); with
// ErrWrongPassword for a wrong password, which counts, and the one that
// reaches MaxAttempts locks the account (lockedNow); with ErrAccountLocked
// when the account locked while the attempt was in flight. A right password
// resets the count and stamps last_login_at when the email is verified,
// unless a second factor is on: then only a right code completes the login
// (CompleteLogin), or a password known to a guesser would let codes be
// guessed without end.
func (u *User) EndLoginAttempt(a LoginAttempt, ok bool, now time.Time, p LockoutPolicy) (lockedNow bool, err error) {
	s := &u.s
	if s.LoginsInFlight > 0 {
		s.LoginsInFlight--
	}
	if s.PasswordVersion != a.passwordVersion {
		return false, ErrPasswordChanged
	}
	if !ok {
		s.FailedLoginAttempts++
		if s.FailedLoginAttempts >= p.MaxAttempts && !s.IsLocked {
			u.lock(now, LockByFailures)
			return true, ErrWrongPassword
		}
		return false, ErrWrongPassword
	}
	if s.IsLocked {
		// The account locked while this attempt was in flight (its lease
		// ran out, or staff locked it): the right password is refused and
		// resets nothing.
		return false, ErrAccountLocked
	}
	if !u.MFAEnabled() {
		u.CompleteLogin(now)
	}
	return false, nil
}

// AbandonLoginAttempt releases an admitted attempt whose password could not
// be checked (the hasher failed): it neither counts nor resets.
func (u *User) AbandonLoginAttempt() {
	if u.s.LoginsInFlight > 0 {
		u.s.LoginsInFlight--
	}
}

// CheckCanLogin reports why a user whose password was right may not log in.
func (u *User) CheckCanLogin() error {
	if u.s.IsLocked {
		return ErrAccountLocked
	}
	if !u.s.EmailVerified {
		return ErrEmailNotVerified
	}
	return nil
}

// IsLocked reports whether the account is locked at the moment.
func (u *User) IsLocked() bool { return u.s.IsLocked }

// LockReason says why the account is locked; empty when it is not.
func (u *User) LockReason() LockReason { return u.s.LockReason }

// LockByStaff locks the account on behalf of staff: every session ends and
// only staff lift the lock. Locking a locked account makes the lock staff's.
func (u *User) LockByStaff(now time.Time) {
	u.lock(now, LockByStaff)
}

// Unlock lifts a lock and clears the failure count.
func (u *User) Unlock(now time.Time) {
	u.unlock(now)
}

// SetUnlockToken stores the hash of the single-use link that lets the owner
// lift a lock that failures caused; it replaces any earlier one.
func (u *User) SetUnlockToken(hash string, expiresAt time.Time) {
	u.s.UnlockTokenHash = hash
	u.s.UnlockExpiresAt = expiresAt.UTC()
}

// UnlockWithToken consumes an unlock link: the lock that failures caused is
// lifted, without touching the password or any session. Fails with
// ErrInvalidUnlockToken for a wrong, spent or expired token.
func (u *User) UnlockWithToken(tokenHash string, now time.Time) error {
	if u.s.UnlockTokenHash == "" ||
		subtle.ConstantTimeCompare([]byte(u.s.UnlockTokenHash), []byte(tokenHash)) != 1 ||
		!now.Before(u.s.UnlockExpiresAt) {
		return ErrInvalidUnlockToken
	}
	u.unlock(now)
	return nil
}

func (u *User) lock(now time.Time, why LockReason) {
	u.s.IsLocked = true
	u.s.LockReason = why
	u.s.LockedAt = now.UTC()
	if why == LockByStaff {
		u.endAllSessions()
		u.clearUnlockToken()
	}
	u.touch(now)
}

// LockLapsed reports whether the user's lock is one by failed logins
// that has lasted p.Duration: it has ended (PRODUCT.md: LOCKOUT_DURATION,
// "automatic unlock after"), though the stored row says locked until the
// user's next change. The next login's admission lifts it for good.
func (s UserState) LockLapsed(now time.Time, p LockoutPolicy) bool {
	return p.Duration > 0 && s.LockLapsedBy(now.Add(-p.Duration))
}

// LockLapsedBy is LockLapsed given cutoff, now less the lockout's
// duration: the lock is one by failed logins taken at or before cutoff.
func (s UserState) LockLapsedBy(cutoff time.Time) bool {
	return s.IsLocked && s.LockReason != LockByStaff && !s.LockedAt.After(cutoff)
}

// AsOf returns u as a reader should see it at now: a lock that has
// lapsed (LockLapsed) is lifted, in this copy only, with UpdatedAt left
// alone, since nothing is written.
func (u *User) AsOf(now time.Time, p LockoutPolicy) *User {
	if u.s.LockLapsed(now, p) {
		updated := u.s.UpdatedAt
		u.unlock(now)
		u.s.UpdatedAt = updated
	}
	return u
}

func (u *User) unlock(now time.Time) {
	if u.s.IsLocked || u.s.FailedLoginAttempts != 0 {
		u.touch(now)
	}
	u.s.IsLocked = false
	u.s.LockReason = ""
	u.s.LockedAt = time.Time{}
	u.s.FailedLoginAttempts = 0
	u.clearUnlockToken()
}

func (u *User) clearUnlockToken() {
	u.s.UnlockTokenHash = ""
	u.s.UnlockExpiresAt = time.Time{}
}
