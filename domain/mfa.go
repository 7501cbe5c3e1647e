package domain

import (
	"crypto/subtle"
	"strings"
	"time"
)

// The second factor (PRODUCT.md 8.1): a TOTP secret, confirmed with a first
// code before it is in force, and single-use recovery codes. Secrets reach
// the user sealed (ports.SecretBox): the domain keeps them opaque and is
// handed the opened key when a code is to be checked. A wrong code counts
// toward the lockout exactly as a wrong password does, and a right password
// alone never resets that count while a second factor is on: only a right
// code completes a login.

// RecoveryCodeCount is how many recovery codes a user holds at once.
const RecoveryCodeCount = 10

// RecoveryCodeLen is the length of a recovery code without separators: 16
// base32 characters, 80 random bits, so that a fast hash keeps them safe at
// rest as it keeps the email-link tokens.
const RecoveryCodeLen = 16

// RecoveryCodes are the hashes of a user's recovery codes; a used code's
// slot is empty. An array, so that UserState stays comparable.
type RecoveryCodes [RecoveryCodeCount]string

// Remaining counts the codes not used yet.
func (r RecoveryCodes) Remaining() int {
	n := 0
	for _, h := range r {
		if h != "" {
			n++
		}
	}
	return n
}

// NormalizeRecoveryCode returns a recovery code as it is hashed: lower-case,
// without the dashes and spaces it is shown or typed with. ok is false when
// what is left is not RecoveryCodeLen base32 characters.
func NormalizeRecoveryCode(code string) (string, bool) {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(code) != RecoveryCodeLen {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	return code, true
}

// MFATokenTTL is how long the second step of a login may wait for its code.
const MFATokenTTL = 5 * time.Minute

// MFAEnabled reports whether a second factor is on: a login then needs a
// code after the password.
func (u *User) MFAEnabled() bool { return u.s.TOTPSecret != "" }

// SealedTOTPSecret is the sealed secret in force; empty when none is.
func (u *User) SealedTOTPSecret() string { return u.s.TOTPSecret }

// SealedPendingTOTPSecret is the sealed secret of an enrolment not yet
// confirmed; empty when none is pending.
func (u *User) SealedPendingTOTPSecret() string { return u.s.TOTPPendingSecret }

// BeginTOTPEnrolment keeps a new sealed secret pending until ConfirmTOTP;
// it replaces a pending one. Fails with ErrMFAEnabled when a second factor
// is on already.
func (u *User) BeginTOTPEnrolment(sealed string, now time.Time) error {
	if u.MFAEnabled() {
		return ErrMFAEnabled
	}
	u.s.TOTPPendingSecret = sealed
	u.touch(now)
	return nil
}

// ConfirmTOTP puts the pending secret in force with a first code of it: key
// is that secret opened, recovery the hashes of the first recovery codes.
// The code is spent (it cannot log in), and every session but keep ends:
// whoever else was signed in proved only a password. Fails with
// ErrNoPendingMFA, or with ErrInvalidCode, changing nothing.
func (u *User) ConfirmTOTP(key []byte, code string, recovery RecoveryCodes, keep string, now time.Time) error {
	if u.s.TOTPPendingSecret == "" {
		return ErrNoPendingMFA
	}
	// The replay guard belongs to the secret in force: a new secret starts
	// with none.
	step, ok := matchTOTP(key, code, now, -1)
	if !ok {
		return ErrInvalidCode
	}
	u.s.TOTPSecret = u.s.TOTPPendingSecret
	u.s.TOTPPendingSecret = ""
	u.s.TOTPLastStep = step
	u.s.RecoveryCodeHashes = recovery
	u.clearMFAToken()
	u.EndOtherSessions(keep, now)
	u.touch(now)
	return nil
}

// SecondFactorUsed says which kind of code CheckSecondFactor accepted.
type SecondFactorUsed int

// The codes a second factor accepts.
const (
	UsedTOTP SecondFactorUsed = iota + 1
	UsedRecoveryCode
)

// CheckSecondFactor checks a code against the second factor in force and
// spends it: a TOTP code of key (the secret in force, opened) from the
// current step or one either side, and after the step of the last code
// accepted (a code is good once: replay is refused); or, when allowRecovery,
// an unused recovery code, given as the hash of its normalised form
// (recoveryHash, empty when the code is not shaped like one), which is good
// once too. Fails with ErrMFANotEnabled, or ErrInvalidCode, changing
// nothing: the caller counts the failure (CountFailedCode).
func (u *User) CheckSecondFactor(key []byte, code, recoveryHash string, allowRecovery bool, now time.Time) (SecondFactorUsed, error) {
	if !u.MFAEnabled() {
		return 0, ErrMFANotEnabled
	}
	if step, ok := matchTOTP(key, code, now, u.s.TOTPLastStep); ok {
		u.s.TOTPLastStep = step
		u.touch(now)
		return UsedTOTP, nil
	}
	if !allowRecovery || recoveryHash == "" {
		return 0, ErrInvalidCode
	}
	found := -1
	for i, h := range u.s.RecoveryCodeHashes {
		if h != "" && subtle.ConstantTimeCompare([]byte(h), []byte(recoveryHash)) == 1 && found < 0 {
			found = i
		}
	}
	if found < 0 {
		return 0, ErrInvalidCode
	}
	u.s.RecoveryCodeHashes[found] = ""
	u.touch(now)
	return UsedRecoveryCode, nil
}

// RecoveryCodesLeft counts the recovery codes not used yet.
func (u *User) RecoveryCodesLeft() int { return u.s.RecoveryCodeHashes.Remaining() }

// ReplaceRecoveryCodes puts new recovery codes (their hashes) in place of
// the old ones, which stop working. Fails with ErrMFANotEnabled.
func (u *User) ReplaceRecoveryCodes(recovery RecoveryCodes, now time.Time) error {
	if !u.MFAEnabled() {
		return ErrMFANotEnabled
	}
	u.s.RecoveryCodeHashes = recovery
	u.touch(now)
	return nil
}

// DisableMFA turns the second factor off, with a pending enrolment, the
// recovery codes and a pending second step of a login. Sessions go on: the
// owner proved the password and a code to do it. Fails with
// ErrMFANotEnabled.
func (u *User) DisableMFA(now time.Time) error {
	if !u.MFAEnabled() {
		return ErrMFANotEnabled
	}
	u.clearMFA()
	u.touch(now)
	return nil
}

// ResetMFA is DisableMFA on behalf of an ADMIN, for an owner who lost the
// second factor: every session of the user ends as well, since any of them
// may be the reason for the reset. It reports whether anything was on or
// pending; when nothing was, nothing changes.
func (u *User) ResetMFA(now time.Time) bool {
	if !u.MFAEnabled() && u.s.TOTPPendingSecret == "" {
		return false
	}
	u.clearMFA()
	u.endAllSessions()
	u.touch(now)
	return true
}

func (u *User) clearMFA() {
	u.s.TOTPSecret = ""
	u.s.TOTPPendingSecret = ""
	u.s.TOTPLastStep = 0
	u.s.RecoveryCodeHashes = RecoveryCodes{}
	u.clearMFAToken()
}

// SetMFAToken stores the hash of the token a login's second step must
// present, until expiresAt; it replaces an earlier one.
func (u *User) SetMFAToken(hash string, expiresAt time.Time) {
	u.s.MFATokenHash = hash
	u.s.MFATokenExpiresAt = expiresAt.UTC()
}

// CheckMFAToken fails with ErrInvalidMFAToken unless hash is that of the
// pending second step's token and it has not expired at now.
func (u *User) CheckMFAToken(hash string, now time.Time) error {
	if u.s.MFATokenHash == "" || !u.MFAEnabled() ||
		subtle.ConstantTimeCompare([]byte(u.s.MFATokenHash), []byte(hash)) != 1 ||
		!now.Before(u.s.MFATokenExpiresAt) {
		return ErrInvalidMFAToken
	}
	return nil
}

// ConsumeMFAToken checks the token as CheckMFAToken does and spends it.
func (u *User) ConsumeMFAToken(hash string, now time.Time) error {
	if err := u.CheckMFAToken(hash, now); err != nil {
		return err
	}
	u.clearMFAToken()
	return nil
}

func (u *User) clearMFAToken() {
	u.s.MFATokenHash = ""
	u.s.MFATokenExpiresAt = time.Time{}
}

// AdmitCodeCheck admits a second-factor code whose check and decision are
// made in the same change of the user (a code is checked in microseconds,
// so no slot is held across transactions, unlike a password). It fails
// with ErrAccountLocked while the account is locked, and with ErrLoginBusy
// while the attempts in flight could still fill the lockout (the caller
// waits and retries). Admission may itself lock the account or lift an
// expired lock: the change is to be saved even when admission fails.
func (u *User) AdmitCodeCheck(now time.Time, p LockoutPolicy) error {
	return u.admit(now, p)
}

// CountFailedCode counts a wrong second-factor code toward the lockout as a
// wrong password counts: the one that reaches MaxAttempts locks the account
// (lockedNow).
func (u *User) CountFailedCode(now time.Time, p LockoutPolicy) (lockedNow bool) {
	u.s.FailedLoginAttempts++
	if u.s.FailedLoginAttempts >= p.MaxAttempts && !u.s.IsLocked {
		u.lock(now, LockByFailures)
		return true
	}
	return false
}

// CompleteLogin records a login whose every factor was proved: the failure
// count resets, and last_login_at is stamped when the email is verified.
func (u *User) CompleteLogin(now time.Time) {
	u.s.FailedLoginAttempts = 0
	if u.s.EmailVerified {
		u.s.LastLoginAt = now.UTC()
	}
}
