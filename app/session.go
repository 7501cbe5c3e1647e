package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// startSession opens a session for u, whose password was just checked, and
// issues its first tokens.
func (s *Service) startSession(ctx context.Context, u *domain.User, password string) (LoginResult, error) {
	refresh, err := s.secrets.NewSecret()
	if err != nil {
		return LoginResult{}, err
	}
	now := s.clock.Now()
	sess := domain.Session{
		ID: s.ids.NewID(), UserID: u.ID(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL),
		UserVersion: u.TokenVersion(),
	}
	if err := s.sessions.CreateSession(ctx, sess, hashSecret(refresh)); err != nil {
		return LoginResult{}, err
	}
	// The password may have changed since it was checked, and the change
	// may have revoked the user's other sessions before this one existed:
	// look again now that it does, and end it if the proof went stale.
	cur, err := s.users.UserByID(ctx, u.ID())
	if err == nil {
		err = s.stillProven(ctx, u, cur, password)
	}
	if err != nil {
		if rerr := s.sessions.RevokeSession(ctx, sess.ID, now); rerr != nil && !errors.Is(rerr, domain.ErrSessionNotFound) {
			s.log.WarnContext(ctx, "stale session not revoked", "user_id", u.ID(), "error", rerr)
		}
		if errors.Is(err, domain.ErrUserNotFound) {
			err = domain.ErrInvalidCredentials
		}
		return LoginResult{}, err
	}
	return s.issue(u, sess.ID, refresh)
}

// stillProven reports whether a password checked against before still
// opens the account as it is now (cur). A new token version means a lock,
// demotion or reset. A new hash may be a password change or only an upgrade
// of the hash's parameters; the password tells them apart, at the price of
// one more check in that rare race.
func (s *Service) stillProven(ctx context.Context, before, cur *domain.User, password string) error {
	if cur.TokenVersion() != before.TokenVersion() || cur.IsLocked() {
		return domain.ErrInvalidCredentials
	}
	if cur.PasswordHash() == before.PasswordHash() {
		return nil
	}
	ok, _, err := s.hasher.Verify(ctx, password, cur.PasswordHash())
	if err != nil {
		return err
	}
	if !ok {
		return domain.ErrInvalidCredentials
	}
	return nil
}

func (s *Service) issue(u *domain.User, sessionID, refresh string) (LoginResult, error) {
	token, ttl, err := s.issuer.Issue(ports.AccessClaims{
		UserID: u.ID(), Role: u.Role(), TokenVersion: u.TokenVersion(), SessionID: sessionID,
	}, s.clock.Now())
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{AccessToken: token, ExpiresIn: ttl, RefreshToken: refresh, User: u}, nil
}

// Refresh rotates a refresh token: the presented one is spent and a new
// pair issued. A spent token presented again revokes its whole session,
// since one of its two holders is not its owner.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (LoginResult, error) {
	res, err := s.refresh(ctx, refreshToken)
	if err != nil {
		return LoginResult{}, fmt.Errorf("refresh: %w", err)
	}
	return res, nil
}

func (s *Service) refresh(ctx context.Context, refreshToken string) (LoginResult, error) {
	if refreshToken == "" || len(refreshToken) > 512 {
		return LoginResult{}, domain.ErrInvalidRefreshToken
	}
	next, err := s.secrets.NewSecret()
	if err != nil {
		return LoginResult{}, err
	}
	now := s.clock.Now()
	oldHash := hashSecret(refreshToken)
	sess, err := s.sessions.RotateRefreshToken(ctx, oldHash, hashSecret(next), now, now.Add(s.cfg.RefreshTTL))
	if errors.Is(err, domain.ErrRefreshTokenReused) {
		if sess, serr := s.sessions.SessionByRefreshHash(ctx, oldHash); serr == nil {
			s.recordEvent(ctx, s.event(ctx, domain.EventRefreshTokenReuse, "", sess.UserID, "session "+sess.ID+" revoked"))
		}
		return LoginResult{}, domain.ErrInvalidRefreshToken
	}
	if err != nil {
		return LoginResult{}, err
	}
	u, err := s.users.UserByID(ctx, sess.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return LoginResult{}, domain.ErrInvalidRefreshToken
	}
	if err != nil {
		return LoginResult{}, err
	}
	if !sess.ValidFor(u, now) || u.IsLocked() || u.CheckCanLogin() != nil {
		if err := s.sessions.RevokeSession(ctx, sess.ID, now); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, domain.ErrInvalidRefreshToken
	}
	return s.issue(u, sess.ID, next)
}

// Logout ends the caller's session, so its refresh token and every access
// token issued in it stop working. A refresh token of another session of
// the same user, if given, ends that session too.
func (s *Service) Logout(ctx context.Context, actor domain.Actor, refreshToken string) error {
	now := s.clock.Now()
	if err := s.sessions.RevokeSession(ctx, actor.SessionID, now); err != nil && !errors.Is(err, domain.ErrSessionNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	if refreshToken != "" && len(refreshToken) <= 512 {
		sess, err := s.sessions.SessionByRefreshHash(ctx, hashSecret(refreshToken))
		if err == nil && sess.UserID == actor.ID && sess.ID != actor.SessionID {
			if err := s.sessions.RevokeSession(ctx, sess.ID, now); err != nil {
				return fmt.Errorf("logout: %w", err)
			}
		}
	}
	s.recordEvent(ctx, s.event(ctx, domain.EventLogout, actor.ID, actor.ID, ""))
	return nil
}

// recordEvent saves an event that belongs to no user change. Losing one is
// logged, not returned: the change it describes already happened.
func (s *Service) recordEvent(ctx context.Context, e domain.AuditEvent) {
	if err := s.audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "type", string(e.Type), "error", err)
	}
}
