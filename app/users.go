package app

import (
	"context"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// Page limits of ListUsers and SearchUsers.
const (
	MinPageSize = 1
	MaxPageSize = 100
)

// CodeEmptyUpdate: an update that names no field to change (UpdateUser,
// UpdateMe). The ValidationError's field is empty: the input as a whole is wrong.
const CodeEmptyUpdate domain.Code = "empty_update"

// GetUser returns one user to staff.
func (s *Service) GetUser(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		return nil, fmt.Errorf("get user: %w", domain.ErrUserNotFound)
	}
	u, err := s.users.UserByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return s.asOfNow(u), nil
}

// asOfNow is u as it is shown: with a lock that has lapsed lifted
// (domain.UserState.LockLapsed), though its row keeps it until the next change.
func (s *Service) asOfNow(u *domain.User) *domain.User {
	return u.AsOf(s.clock.Now(), s.cfg.Lockout)
}

// UserPage is one page of users.
type UserPage struct {
	Users []*domain.User
	Total int
	Skip  int
	Limit int
}

// ListUsers returns a page of users to staff, oldest first: SearchUsers
// with offset paging and no filters.
func (s *Service) ListUsers(ctx context.Context, actor domain.Actor, skip, limit int) (UserPage, error) {
	page, err := s.searchUsers(ctx, actor, UserSearch{Skip: skip, Limit: limit})
	if err != nil {
		return UserPage{}, fmt.Errorf("list users: %w", err)
	}
	return UserPage{Users: page.Users, Total: page.Total, Skip: page.Skip, Limit: page.Limit}, nil
}

// UpdateUserInput is a partial update by staff; nil fields are unchanged.
type UpdateUserInput struct {
	Email    *string
	Nickname *string
	Profile  domain.ProfilePatch
	Role     *domain.Role // ADMIN only
}

func (in UpdateUserInput) isEmpty() bool {
	return in.Email == nil && in.Nickname == nil && in.Profile.IsEmpty() && in.Role == nil
}

// UpdateUser changes a user on behalf of staff.
func (s *Service) UpdateUser(ctx context.Context, actor domain.Actor, userID string, in UpdateUserInput) (*domain.User, error) {
	u, err := s.updateUser(ctx, actor, userID, in)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return s.asOfNow(u), nil
}

func (s *Service) updateUser(ctx context.Context, actor domain.Actor, userID string, in UpdateUserInput) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, err
	}
	if in.Role != nil {
		if err := actor.CheckChangesRoles(); err != nil {
			return nil, err
		}
	}
	if in.isEmpty() {
		return nil, domain.FieldInvalid(domain.FieldError{Code: CodeEmptyUpdate})
	}
	if in.Role != nil && in.Role.IsZero() {
		return nil, domain.FieldInvalid(domain.FieldError{Field: "role", Code: domain.CodeNotOneOf, Values: domain.RoleNames()})
	}
	if err := validatePatch(in.Email, in.Nickname, in.Profile); err != nil {
		return nil, err
	}
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		return nil, domain.ErrUserNotFound
	}
	secret := ""
	if in.Email != nil {
		var err error
		if secret, err = s.secrets.NewSecret(); err != nil {
			return nil, err
		}
	}
	var out *domain.User
	emailChanged := false
	apply := func(u *domain.User, admins int) error {
		emailChanged = false // the closure may run again
		if err := actor.CheckActsOn(u); err != nil {
			return err
		}
		now := s.clock.Now()
		if in.Role != nil {
			if err := domain.CheckAdminRemains(u, *in.Role, admins); err != nil {
				return err
			}
			if *in.Role != u.Role() {
				u.Record(s.event(ctx, domain.EventRoleChanged, actor.ID, u.ID(), u.Role().String()+" -> "+in.Role.String()))
			}
			u.SetRole(*in.Role, now)
		}
		if in.Email != nil {
			old := u.Email()
			if err := u.ChangeEmail(*in.Email, now); err != nil {
				return err
			}
			if emailChanged = u.Email() != old; emailChanged {
				s.emailChangedByStaff(ctx, actor, u, old, secret)
			}
		}
		if err := u.EditProfile(in.Nickname, in.Profile, now); err != nil {
			return err
		}
		if in.Email != nil || in.Nickname != nil || !in.Profile.IsEmpty() {
			u.Record(s.event(ctx, domain.EventUserUpdated, actor.ID, u.ID(), ""))
		}
		out = u
		return nil
	}
	var err error
	if in.Role != nil {
		err = s.users.UpdateUserCountingAdmins(ctx, id, apply)
	} else {
		err = s.users.UpdateUser(ctx, id, func(u *domain.User) error { return apply(u, 0) })
	}
	if err == nil && emailChanged {
		s.wake()
	}
	return out, err
}

// emailChangedByStaff is what a change of u's email by staff owes, after
// domain.User.ChangeEmail unverified the account and ended the links sent
// to old: the new address gets a verification link (a new invitation, if
// the account was invited and has no password yet), and the old one a
// notice, so that a change its owner did not expect does not go unseen.
func (s *Service) emailChangedByStaff(ctx context.Context, actor domain.Actor, u *domain.User, old, secret string) {
	now := s.clock.Now()
	if u.InvitationPending() {
		// Pending, so reissuing cannot fail.
		_ = u.ReissueInvitation(hashSecret(secret), now.Add(s.cfg.InvitationTTL))
		u.Queue(s.invitationMessage(u, secret))
	} else {
		u.SetVerificationToken(hashSecret(secret), now.Add(s.cfg.VerificationTTL))
		u.Queue(s.verificationMessage(u, secret))
	}
	u.Queue(domain.Message{Kind: domain.MessageEmailChanged, To: old, Name: u.DisplayName()})
	u.Record(s.event(ctx, domain.EventEmailChanged, actor.ID, u.ID(), old+" -> "+u.Email()+" (by staff)"))
}

// validatePatch reports every invalid field of a partial update at once.
func validatePatch(email, nickname *string, p domain.ProfilePatch) error {
	v := &domain.ValidationError{}
	if email != nil {
		_, err := domain.NormalizeEmail(*email)
		v.Merge(err)
	}
	if nickname != nil {
		v.Merge(domain.ValidateNickname(*nickname))
	}
	v.Merge(p.Apply(domain.Profile{}).Validate())
	return v.Err()
}

// DeleteUser deletes a user on behalf of staff; the last ADMIN stays.
func (s *Service) DeleteUser(ctx context.Context, actor domain.Actor, userID string) error {
	if err := actor.CheckAdministers(); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		return fmt.Errorf("delete user: %w", domain.ErrUserNotFound)
	}
	err := s.users.DeleteUser(ctx, id, func(u *domain.User, admins int) error {
		if err := actor.CheckActsOn(u); err != nil {
			return err
		}
		if err := domain.CheckAdminRemains(u, domain.Role{}, admins); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventUserDeleted, actor.ID, u.ID(), ""))
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// UpgradeToProfessional grants professional status and emails the user the
// first time; a second upgrade changes nothing.
func (s *Service) UpgradeToProfessional(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error) {
	var changed bool
	u, err := s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		if changed = u.UpgradeToProfessional(s.clock.Now()); changed {
			u.Record(s.event(ctx, domain.EventProfessionalSet, actor.ID, u.ID(), "professional"))
			u.Queue(domain.Message{Kind: domain.MessageProfessional, To: u.Email(), Name: u.DisplayName(), Link: s.cfg.PublicBaseURL})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upgrade to professional: %w", err)
	}
	if changed {
		s.wake()
	}
	return u, nil
}

// Unlock lifts a lockout on behalf of staff.
func (s *Service) Unlock(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error) {
	u, err := s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		if u.IsLocked() {
			u.Record(s.event(ctx, domain.EventAccountUnlocked, actor.ID, u.ID(), ""))
		}
		u.Unlock(s.clock.Now())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unlock: %w", err)
	}
	return u, nil
}

// Lock locks an account on behalf of staff: new logins are refused and
// every session of the user ends, in the same write; only staff unlock it.
func (s *Service) Lock(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error) {
	u, err := s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		if u.ID() == actor.ID {
			return domain.ErrNotPermitted // locking oneself out helps nobody
		}
		u.LockByStaff(s.clock.Now())
		u.Record(s.event(ctx, domain.EventAccountLocked, actor.ID, u.ID(), "locked by staff"))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return u, nil
}

// ChangeRole sets a user's role; ADMIN only, and the last ADMIN stays one.
func (s *Service) ChangeRole(ctx context.Context, actor domain.Actor, userID string, role domain.Role) (*domain.User, error) {
	if err := actor.CheckChangesRoles(); err != nil {
		return nil, fmt.Errorf("change role: %w", err)
	}
	u, err := s.UpdateUser(ctx, actor, userID, UpdateUserInput{Role: &role})
	if err != nil {
		return nil, fmt.Errorf("change role: %w", err)
	}
	return u, nil
}

// staffUpdate applies fn to a user the actor may act on.
func (s *Service) staffUpdate(ctx context.Context, actor domain.Actor, userID string, fn func(*domain.User) error) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, err
	}
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		return nil, domain.ErrUserNotFound
	}
	var out *domain.User
	err := s.users.UpdateUser(ctx, id, func(u *domain.User) error {
		if err := actor.CheckActsOn(u); err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.asOfNow(out), nil
}
