package domain

import (
	"crypto/subtle"
	"time"
)

// An invited account is created by staff without a password: its owner
// sets one with the single-use link of the invitation email, which also
// verifies the address. Until then the account answers a login exactly as
// an unknown email does (BeginLoginAttempt fails with ErrNoPassword).

// Invite makes u, a new account, an invitation: no password, and the link
// whose secret hashes to tokenHash, valid until expiresAt.
func (u *User) Invite(tokenHash string, expiresAt time.Time) {
	u.s.PasswordHash = ""
	u.s.InvitationPending = true
	u.s.InvitationTokenHash = tokenHash
	u.s.InvitationExpiresAt = expiresAt.UTC()
}

// InvitationPending reports whether the account was invited and its owner
// has not accepted yet.
func (u *User) InvitationPending() bool { return u.s.InvitationPending }

// HasPassword reports whether the account has a password to log in with.
func (u *User) HasPassword() bool { return u.s.PasswordHash != "" }

// ReissueInvitation replaces the invitation link: the earlier one dies.
// Fails with ErrInvitationAlreadyAccepted once the owner accepted.
func (u *User) ReissueInvitation(tokenHash string, expiresAt time.Time) error {
	if !u.s.InvitationPending {
		return ErrInvitationAlreadyAccepted
	}
	u.s.InvitationTokenHash = tokenHash
	u.s.InvitationExpiresAt = expiresAt.UTC()
	return nil
}

// AcceptInvitation consumes the invitation link: the password whose hash
// is given is set, and the address is verified by the link (an ANONYMOUS
// account becomes AUTHENTICATED, as with a verification link). Fails with
// ErrInvalidInvitation for a wrong, spent or expired token, or once the
// invitation was accepted.
func (u *User) AcceptInvitation(tokenHash, passwordHash string, now time.Time) error {
	if !u.s.InvitationPending || u.s.InvitationTokenHash == "" ||
		subtle.ConstantTimeCompare([]byte(u.s.InvitationTokenHash), []byte(tokenHash)) != 1 ||
		!now.Before(u.s.InvitationExpiresAt) {
		return ErrInvalidInvitation
	}
	u.s.InvitationPending = false
	u.s.InvitationTokenHash, u.s.InvitationExpiresAt = "", time.Time{}
	u.s.PasswordHash = passwordHash
	u.s.PasswordVersion++
	u.MarkEmailVerified(now)
	return nil
}

// MarkSignedIn records a sign-in that proved who the user is without a
// password check (accepting an invitation signs the person in).
func (u *User) MarkSignedIn(now time.Time) {
	u.s.FailedLoginAttempts = 0
	u.s.LastLoginAt = now.UTC()
}
