package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// Authenticate turns an access token into the actor it stands for, checked
// against the session and the user as they are now, read together in one
// query: the token of a user since deleted, demoted, locked by staff or
// reset, or whose session ended (logout, another session's password change,
// a session ended by its owner or staff) fails with domain.ErrInvalidToken.
// A lock that wrong passwords caused stops new logins only, not sessions.
// The actor carries the role the user has now, and the user as read.
func (s *Service) Authenticate(ctx context.Context, token string) (domain.Actor, error) {
	now := s.clock.Now()
	claims, err := s.verifier.Verify(token, now)
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	sess, u, err := s.sessions.SessionWithUser(ctx, claims.SessionID)
	if errors.Is(err, domain.ErrSessionNotFound) {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", domain.ErrInvalidToken)
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", err)
	}
	if u.ID() != claims.UserID || u.Role() != claims.Role || !sess.ValidFor(u, now) {
		return domain.Actor{}, fmt.Errorf("authenticate: %w", domain.ErrInvalidToken)
	}
	return domain.Actor{ID: u.ID(), Role: u.Role(), SessionID: sess.ID, User: u}, nil
}
