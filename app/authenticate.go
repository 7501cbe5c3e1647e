package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// Authenticate turns an access token into the actor it stands for, checked
// against the user's current state: the token of a user since deleted,
// locked, demoted, reset, or whose session ended (logout, another session's
// password change) fails with domain.ErrInvalidToken.
// The actor carries the role the user has now.
func (s *Service) Authenticate(ctx context.Context, token string) (domain.Actor, error) {
	claims, err := s.verifier.Verify(token, s.clock.Now())
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	u, err := s.users.UserByID(ctx, claims.UserID)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", domain.ErrInvalidToken)
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	if u.IsLocked() || u.Role() != claims.Role {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", domain.ErrInvalidToken)
	}
	// The session decides: it ends on logout, and with every bump of the
	// user's token version (lock, demotion, password change or reset).
	sess, err := s.sessions.SessionByID(ctx, claims.SessionID)
	if errors.Is(err, domain.ErrSessionNotFound) || (err == nil && !sess.ValidFor(u, s.clock.Now())) {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", domain.ErrInvalidToken)
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	return domain.Actor{ID: u.ID(), Role: u.Role(), SessionID: sess.ID}, nil
}
