package app

import (
	"context"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// OperatorID is the actor id of the command line in the audit log: a
// person at the server's console, who has the database and needs no
// account.
const OperatorID = "operator"

// Operator is the actor the command line acts as: an ADMIN without an
// account. The rules of an ADMIN hold for it (the last ADMIN stays one).
func Operator() domain.Actor {
	return domain.Actor{ID: OperatorID, Role: domain.RoleAdmin}
}

// UserByEmail returns the user with that email to staff. Fails with
// domain.ErrUserNotFound.
func (s *Service) UserByEmail(ctx context.Context, actor domain.Actor, rawEmail string) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	email, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	u, err := s.users.UserByEmail(ctx, email)
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	return s.asOfNow(u), nil
}
