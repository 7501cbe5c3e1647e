package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// UnlockWithToken lifts a lock that wrong passwords caused, with the
// single-use link of the lock email. The password and every session stay as
// they are. Any failure is domain.ErrInvalidUnlockToken.
func (s *Service) UnlockWithToken(ctx context.Context, token string) error {
	if err := s.unlockWithToken(ctx, token); err != nil {
		return fmt.Errorf("unlock with token: %w", err)
	}
	return nil
}

func (s *Service) unlockWithToken(ctx context.Context, token string) error {
	if token == "" || len(token) > 512 {
		return domain.ErrInvalidUnlockToken
	}
	tokenHash := hashSecret(token)
	u, err := s.users.UserByToken(ctx, ports.TokenUnlock, tokenHash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidUnlockToken
	}
	if err != nil {
		return err
	}
	err = s.users.UpdateUser(ctx, u.ID(), func(u *domain.User) error {
		if err := u.UnlockWithToken(tokenHash, s.clock.Now()); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventAccountUnlocked, u.ID(), u.ID(), "unlock link"))
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidUnlockToken
	}
	return err
}
