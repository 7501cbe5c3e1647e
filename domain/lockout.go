package domain

import "time"

// LockoutPolicy configures failed-login locking.
type LockoutPolicy struct {
	MaxAttempts int           // wrong passwords that lock the account (>= 1)
	Duration    time.Duration // automatic unlock after; 0 = manual unlock only
	// AttemptLease bounds how long an admitted attempt may stay undecided;
	// one older than that (its process died) is counted as a failure.
	AttemptLease time.Duration
}

// Login attempts are admitted before the password is checked and decided
// after, each step in its own short storage transaction. Admission reserves
// a slot, and no more than MaxAttempts slots exist between two successes, so
// no more than MaxAttempts passwords are ever checked, however many attempts
// arrive at once, while a slow hash never runs inside a transaction.

// BeginLoginAttempt admits one password check. It fails with ErrAccountLocked
// while the account is locked, and with ErrLoginBusy while every remaining
// slot is held by an undecided attempt (the caller waits and retries).
func (u *User) BeginLoginAttempt(now time.Time, p LockoutPolicy) error {
	s := &u.s
	if s.LoginsInFlight > 0 && now.After(s.LoginLeaseUntil) {
		s.FailedLoginAttempts += s.LoginsInFlight
		s.LoginsInFlight = 0
		if s.FailedLoginAttempts >= p.MaxAttempts && !s.IsLocked {
			u.lock(now)
		}
	}
	if s.IsLocked {
		if p.Duration <= 0 || now.Before(s.LockedAt.Add(p.Duration)) {
			return ErrAccountLocked
		}
		u.unlock(now)
	}
	if s.FailedLoginAttempts+s.LoginsInFlight >= p.MaxAttempts {
		return ErrLoginBusy
	}
	s.LoginsInFlight++
	s.LoginLeaseUntil = now.Add(p.AttemptLease).UTC()
	return nil
}

// EndLoginAttempt decides an admitted attempt. A right password resets the
// count (and stamps last_login_at when the email is verified); a wrong one
// counts, and the one that reaches MaxAttempts locks the account, which
// EndLoginAttempt then reports.
func (u *User) EndLoginAttempt(now time.Time, passwordOK bool, p LockoutPolicy) (lockedNow bool) {
	s := &u.s
	if s.LoginsInFlight > 0 {
		s.LoginsInFlight--
	}
	if passwordOK {
		if s.IsLocked {
			// The account locked while this attempt was in flight (its lease
			// ran out): the right password is refused and resets nothing.
			return false
		}
		s.FailedLoginAttempts = 0
		if s.EmailVerified {
			s.LastLoginAt = now.UTC()
		}
		return false
	}
	s.FailedLoginAttempts++
	if s.FailedLoginAttempts >= p.MaxAttempts && !s.IsLocked {
		u.lock(now)
		return true
	}
	return false
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

// Unlock lifts a lock and clears the failure count.
func (u *User) Unlock(now time.Time) {
	u.unlock(now)
	u.touch(now)
}

func (u *User) lock(now time.Time) {
	u.s.IsLocked = true
	u.s.LockedAt = now.UTC()
	u.revokeTokens()
	u.touch(now)
}

func (u *User) unlock(now time.Time) {
	u.s.IsLocked = false
	u.s.LockedAt = time.Time{}
	u.s.FailedLoginAttempts = 0
	u.touch(now)
}
