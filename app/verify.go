package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// VerifyEmail consumes an email verification link. Any failure, an unknown
// user included, is domain.ErrInvalidVerification.
func (s *Service) VerifyEmail(ctx context.Context, userID, token string) error {
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		// As the seed's typed path parameter answered (PRODUCT.md 6: 404 or 422).
		v := &domain.ValidationError{}
		v.Add(domain.FieldError{Field: "user_id", Code: domain.CodeNotUUID})
		return fmt.Errorf("verify email: %w", v.Err())
	}
	if token == "" {
		return fmt.Errorf("verify email: %w", domain.ErrInvalidVerification)
	}
	err := s.users.UpdateUser(ctx, id, func(u *domain.User) error {
		if err := u.VerifyEmail(hashSecret(token), s.clock.Now()); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventEmailVerified, u.ID(), u.ID(), ""))
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		err = domain.ErrInvalidVerification
	}
	if err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	return nil
}
