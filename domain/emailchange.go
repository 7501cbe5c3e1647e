package domain

import (
	"crypto/subtle"
	"time"
)

// An email change by the account's owner happens in two steps: the
// request (password-confirmed) records the new address and the hash of a
// single-use link mailed there; following the link moves the account to
// it. Until then nothing else changes: the old address stays the login and
// the recovery channel.

// RequestEmailChange records a pending change to newEmail (normalised),
// confirmed by the link whose secret hashes to tokenHash, until expiresAt.
// It replaces any earlier request. sessionID is the session asking: it
// stays when the confirmation ends the others. Fails with a ValidationError
// (CodeEmailUnchanged on "new_email") when newEmail is the current address.
func (u *User) RequestEmailChange(newEmail, tokenHash string, expiresAt time.Time, sessionID string) error {
	if newEmail == u.s.Email {
		return FieldInvalid(FieldError{Field: "new_email", Code: CodeEmailUnchanged})
	}
	u.s.PendingEmail = newEmail
	u.s.EmailChangeTokenHash = tokenHash
	u.s.EmailChangeExpiresAt = expiresAt.UTC()
	u.s.EmailChangeSessionID = sessionID
	return nil
}

// CancelEmailChange forgets a pending email change; its link stops working.
func (u *User) CancelEmailChange() {
	u.s.PendingEmail = ""
	u.s.EmailChangeTokenHash = ""
	u.s.EmailChangeExpiresAt = time.Time{}
	u.s.EmailChangeSessionID = ""
}

// PendingEmail is the address a requested email change waits to move to;
// empty when none is pending.
func (u *User) PendingEmail() string { return u.s.PendingEmail }

// ConfirmEmailChange consumes the link of a pending email change: the
// account moves to the new address, verified by the link. Every other link
// token (reset, unlock, verification, invitation) was mailed to the old
// address and dies; every session but the one that asked for the change
// ends, as a password change ends them. It returns the old address, which
// is owed a notice. Fails with ErrInvalidEmailChangeToken for a wrong,
// spent or expired token. The new address may have been taken meanwhile:
// the store's unique index refuses the save then (ErrEmailTaken).
func (u *User) ConfirmEmailChange(tokenHash string, now time.Time) (oldEmail string, err error) {
	if u.s.EmailChangeTokenHash == "" || u.s.PendingEmail == "" ||
		subtle.ConstantTimeCompare([]byte(u.s.EmailChangeTokenHash), []byte(tokenHash)) != 1 ||
		!now.Before(u.s.EmailChangeExpiresAt) {
		return "", ErrInvalidEmailChangeToken
	}
	oldEmail, keep := u.s.Email, u.s.EmailChangeSessionID
	u.s.Email = u.s.PendingEmail
	u.clearLinks()
	u.s.EmailVerified = true
	u.EndOtherSessions(keep, now)
	u.touch(now)
	return oldEmail, nil
}
