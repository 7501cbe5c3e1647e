package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// AdminPasswordPolicy says how CreateAdmin treats a password that fails the
// password policy.
type AdminPasswordPolicy int

const (
	// EnforcePolicy refuses it, as for every other account.
	EnforcePolicy AdminPasswordPolicy = iota
	// WarnOnWeak accepts it with a warning in the log: the operator chose
	// it in a development configuration (ADMIN_PASSWORD), and refusing to
	// start would only get in the way.
	WarnOnWeak
)

// CreateAdmin creates a verified ADMIN, for the CLI and the ADMIN_EMAIL
// bootstrap. It fails with domain.ErrEmailTaken if the email is in use.
func (s *Service) CreateAdmin(ctx context.Context, email, password string) (*domain.User, error) {
	return s.createAdmin(ctx, email, password, EnforcePolicy)
}

func (s *Service) createAdmin(ctx context.Context, email, password string, policy AdminPasswordPolicy) (*domain.User, error) {
	in := NewUserInput{Email: email, Password: password}
	norm, err := validateNewUser(in)
	var ve *domain.ValidationError
	if err != nil && policy == WarnOnWeak && errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == "password" && password != "" {
		s.log.WarnContext(ctx, "the bootstrap admin's password fails the password policy; accepted outside production only",
			"email", norm, "reason", string(ve.Fields[0].Code))
		err = nil
	}
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

// EnsureAdmin creates the bootstrap ADMIN (ADMIN_EMAIL, ADMIN_PASSWORD) when
// the database has no ADMIN at all, and reports whether it did. While any
// ADMIN exists nothing happens, so a bootstrap admin that was deleted or
// demoted does not come back at the next start; nor is an existing account
// with that email touched.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string, policy AdminPasswordPolicy) (bool, error) {
	admins, _, err := s.users.ListUsers(ctx, ports.UserQuery{Role: domain.RoleAdmin, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("create admin: %w", err)
	}
	if len(admins) > 0 {
		return false, nil
	}
	_, err = s.createAdmin(ctx, email, password, policy)
	switch {
	case errors.Is(err, domain.ErrEmailTaken):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
