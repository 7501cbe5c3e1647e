package domain

import "time"

// Session is one login: it lasts while its refresh tokens are rotated
// before they expire, and ends on logout, reuse of a rotated token, a
// password change (other sessions) or reset (all).
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time // moves forward at every rotation
	RevokedAt time.Time // zero: active
	// UserVersion is the user's TokenVersion the session was opened at. A
	// lock, demotion or reset bumps the user's version and so ends it.
	UserVersion int
}

// Active reports whether the session may still be used at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// ValidFor reports whether the session may still be used by u at now.
func (s Session) ValidFor(u *User, now time.Time) bool {
	return s.Active(now) && s.UserID == u.ID() && s.UserVersion == u.TokenVersion()
}
