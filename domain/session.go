package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Session is one login: it lasts while its refresh tokens are rotated
// before they expire, up to a maximum age, and ends on logout, reuse of a
// rotated token, or a change of its user that ends sessions.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time // the login
	LastUsedAt time.Time // the login or the last refresh
	ExpiresAt  time.Time // moves forward at every refresh, never past the maximum age
	RevokedAt  time.Time // zero: not ended
	// UserVersion is the user's TokenVersion the session was opened at. A
	// change that ends every session (a staff lock, a demotion, a reset)
	// bumps the user's version and so ends them all with one write.
	UserVersion int
	IP          string // of the login
	UserAgent   string // of the login, cut to MaxUserAgentLen
	// SecondFactor says the login proved a second factor as well as the
	// password; a refresh keeps it (the amr of the session's tokens).
	SecondFactor bool
}

// AuthMethods are how the session's login proved who its user is, as the
// amr claim names them (RFC 8176): a password, and a one-time code when a
// second factor was proved.
func (s Session) AuthMethods() []string {
	if s.SecondFactor {
		return []string{"pwd", "otp"}
	}
	return []string{"pwd"}
}

// MaxUserAgentLen bounds the user agent kept with a session, in characters.
const MaxUserAgentLen = 255

// maxIPLen bounds the address kept with a session (an IPv6 address with a
// zone is under 64 characters).
const maxIPLen = 64

// cut keeps the first n characters of s, dropping invalid UTF-8 (a header
// may hold any bytes; a database text column may not).
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// SessionPolicy says how long sessions last.
type SessionPolicy struct {
	TTL    time.Duration // after the login or the last refresh
	MaxAge time.Duration // after the login, whatever the refreshes; 0: no limit
}

// NewSession is the session a login opens at now.
func NewSession(id string, now time.Time, p SessionPolicy, ip, userAgent string) Session {
	now = now.UTC()
	s := Session{ID: id, CreatedAt: now, LastUsedAt: now, IP: cut(ip, maxIPLen), UserAgent: cut(userAgent, MaxUserAgentLen)}
	s.ExpiresAt = s.expiry(now, p)
	return s
}

// expiry is when the session ends if it is not used again after now.
func (s Session) expiry(now time.Time, p SessionPolicy) time.Time {
	exp := now.Add(p.TTL)
	if p.MaxAge > 0 {
		if limit := s.CreatedAt.Add(p.MaxAge); limit.Before(exp) {
			exp = limit
		}
	}
	return exp.UTC()
}

// Renew records a refresh at now: the session lives TTL more, but never past
// its maximum age.
func (s *Session) Renew(now time.Time, p SessionPolicy) {
	s.LastUsedAt = now.UTC()
	s.ExpiresAt = s.expiry(now, p)
}

// Active reports whether the session may still be used at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// ValidFor reports whether the session may still be used by u at now.
func (s Session) ValidFor(u *User, now time.Time) bool {
	return s.Active(now) && s.UserID == u.ID() && s.UserVersion == u.TokenVersion()
}

// SessionChangeKind says what a SessionChange does.
type SessionChangeKind int

// The changes a user change may make to its sessions.
const (
	// OpenSession stores SessionChange.Session with its first refresh token.
	OpenSession SessionChangeKind = iota + 1
	// EndSession ends the session SessionChange.Session.ID, if it is the user's.
	EndSession
	// EndOtherSessions ends every session of the user but
	// SessionChange.Session.ID (empty: all of them).
	EndOtherSessions
)

// SessionChange is a change to the user's sessions, recorded by the user
// change that makes it and saved in the same transaction.
type SessionChange struct {
	Kind        SessionChangeKind
	Session     Session   // OpenSession: the new session; otherwise only its ID counts
	RefreshHash string    // OpenSession: the hash of its first refresh token
	At          time.Time // EndSession, EndOtherSessions: when they end
}

// OpenSession records a new session of u, opened at u's current token
// version, with the hash of its first refresh token.
func (u *User) OpenSession(s Session, refreshHash string) {
	s.UserID = u.s.ID
	s.UserVersion = u.s.TokenVersion
	u.sessions = append(u.sessions, SessionChange{Kind: OpenSession, Session: s, RefreshHash: refreshHash})
}

// EndSession records the end of one of u's sessions; ending one that is
// over already, or not u's, changes nothing.
func (u *User) EndSession(id string, now time.Time) {
	u.sessions = append(u.sessions, SessionChange{Kind: EndSession, Session: Session{ID: id}, At: now.UTC()})
}

// EndOtherSessions records the end of every session of u but keep (empty:
// all of them).
func (u *User) EndOtherSessions(keep string, now time.Time) {
	u.sessions = append(u.sessions, SessionChange{Kind: EndOtherSessions, Session: Session{ID: keep}, At: now.UTC()})
}

// TakeSessionChanges returns the recorded session changes, in order, and
// forgets them; stores call it when they save the user.
func (u *User) TakeSessionChanges() []SessionChange {
	c := u.sessions
	u.sessions = nil
	return c
}

// RecordSessionChanges records changes again, after a store failed to save
// them with the user.
func (u *User) RecordSessionChanges(c []SessionChange) { u.sessions = append(u.sessions, c...) }

// endAllSessions ends every session and access token of u, by bumping the
// token version every session is checked against.
func (u *User) endAllSessions() { u.s.TokenVersion++ }
