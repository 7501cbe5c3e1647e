package app

import (
	"context"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// Me returns the caller's own account: as authentication read it, when it
// did (no second read), else from the store.
func (s *Service) Me(ctx context.Context, actor domain.Actor) (*domain.User, error) {
	if actor.User != nil && actor.User.ID() == actor.ID {
		return s.asOfNow(actor.User), nil
	}
	u, err := s.users.UserByID(ctx, actor.ID)
	if err != nil {
		return nil, fmt.Errorf("me: %w", err)
	}
	return s.asOfNow(u), nil
}

// UpdateMeInput is what a user may change about themselves: the nickname
// and profile fields, never role, verification, professional or lock state.
type UpdateMeInput struct {
	Nickname *string
	Profile  domain.ProfilePatch
}

// UpdateMe edits the caller's own profile.
func (s *Service) UpdateMe(ctx context.Context, actor domain.Actor, in UpdateMeInput) (*domain.User, error) {
	if in.Nickname == nil && in.Profile.IsEmpty() {
		return nil, fmt.Errorf("update me: %w", domain.FieldInvalid(domain.FieldError{Code: CodeEmptyUpdate}))
	}
	if err := validatePatch(nil, in.Nickname, in.Profile); err != nil {
		return nil, fmt.Errorf("update me: %w", err)
	}
	var out *domain.User
	err := s.users.UpdateUser(ctx, actor.ID, func(u *domain.User) error {
		if err := u.EditProfile(in.Nickname, in.Profile, s.clock.Now()); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventUserUpdated, actor.ID, actor.ID, "own profile"))
		out = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update me: %w", err)
	}
	return s.asOfNow(out), nil
}
