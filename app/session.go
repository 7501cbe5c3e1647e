package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// issue signs an access token for u in session sessionID; amr are how the
// session's login proved its user (none: a password).
func (s *Service) issue(u *domain.User, sessionID, refresh string, amr ...string) (LoginResult, error) {
	token, ttl, err := s.issuer.Issue(ports.AccessClaims{
		UserID: u.ID(), Role: u.Role(), TokenVersion: u.TokenVersion(), SessionID: sessionID, AuthMethods: amr,
	}, s.clock.Now())
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{AccessToken: token, ExpiresIn: ttl, RefreshToken: refresh, User: u}, nil
}

// Refresh rotates a refresh token: the presented one is spent and a new
// pair issued, and the session lives on (never past its maximum age). A
// spent token presented again revokes its whole session, since one of its
// two holders is not its owner.
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
	sess, u, err := s.sessions.RotateRefreshToken(ctx, oldHash, hashSecret(next), now,
		func(sess domain.Session, u *domain.User) (domain.Session, error) {
			// A lock that wrong passwords caused stops new logins only: the
			// session goes on. Every change that ends it shows here.
			if !sess.ValidFor(u, now) {
				return domain.Session{}, domain.ErrInvalidRefreshToken
			}
			sess.Renew(now, s.sessionPolicy())
			return sess, nil
		})
	if errors.Is(err, domain.ErrRefreshTokenReused) {
		if sess, serr := s.sessions.SessionByRefreshHash(ctx, oldHash); serr == nil {
			s.recordEvent(ctx, s.event(ctx, domain.EventRefreshTokenReuse, "", sess.UserID, "session "+sess.ID+" revoked"))
		}
		return LoginResult{}, domain.ErrInvalidRefreshToken
	}
	if err != nil {
		return LoginResult{}, err
	}
	return s.issue(u, sess.ID, next, sess.AuthMethods()...)
}

// Logout ends the caller's session, so its refresh token and every access
// token issued in it stop working. A refresh token of another session of
// the same user, if given, ends that session too. One write of the user.
func (s *Service) Logout(ctx context.Context, actor domain.Actor, refreshToken string) error {
	other := ""
	if refreshToken != "" && len(refreshToken) <= 512 {
		if sess, err := s.sessions.SessionByRefreshHash(ctx, hashSecret(refreshToken)); err == nil && sess.UserID == actor.ID {
			other = sess.ID
		}
	}
	err := s.users.UpdateUser(ctx, actor.ID, func(u *domain.User) error {
		now := s.clock.Now()
		u.EndSession(actor.SessionID, now)
		if other != "" && other != actor.SessionID {
			u.EndSession(other, now)
		}
		u.Record(s.event(ctx, domain.EventLogout, actor.ID, actor.ID, ""))
		return nil
	})
	if err != nil && !errors.Is(err, domain.ErrUserNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// recordEvent saves an event that belongs to no user change. Losing one is
// logged, not returned: the change it describes already happened.
func (s *Service) recordEvent(ctx context.Context, e domain.AuditEvent) {
	if err := s.audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "type", string(e.Type), "error", err)
	}
}
