package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// CreateAdmin creates a verified ADMIN, for the CLI and the ADMIN_EMAIL
// bootstrap. It fails with domain.ErrEmailTaken if the email is in use.
func (s *Service) CreateAdmin(ctx context.Context, email, password string) (*domain.User, error) {
	in := NewUserInput{Email: email, Password: password}
	norm, err := validateNewUser(in)
	if err != nil {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	if _, err := s.users.UserByEmail(ctx, norm); err == nil {
		return nil, fmt.Errorf("create admin: %w", domain.ErrEmailTaken)
	} else if !errors.Is(err, domain.ErrUserNotFound) {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	u, err := s.insertUser(ctx, in, norm, hash, domain.RoleAdmin, func(u *domain.User) {
		u.MarkEmailVerified(s.clock.Now())
		u.Record(s.event(ctx, domain.EventUserCreated, "", u.ID(), "bootstrap admin"))
	})
	if err != nil {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	return u, nil
}

// EnsureAdmin creates the bootstrap ADMIN unless the email is already in use,
// and reports whether it did.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	_, err := s.CreateAdmin(ctx, email, password)
	switch {
	case errors.Is(err, domain.ErrEmailTaken):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
