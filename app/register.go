package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// NewUserInput is the input of Register and CreateUser.
type NewUserInput struct {
	Email    string
	Nickname string // empty: generate one
	Password string
	Profile  domain.Profile
	Role     *domain.Role // CreateUser only; Register ignores it
}

// maxNicknameTries bounds the retries of a generated nickname that is taken.
const maxNicknameTries = 20

// Register signs a user up: ANONYMOUS and unverified, whatever the input says,
// and emails a verification link.
func (s *Service) Register(ctx context.Context, in NewUserInput) (*domain.User, error) {
	u, err := s.createUser(ctx, in, domain.RoleAnonymous, "")
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// CreateUser creates an account on behalf of staff; only an ADMIN may choose
// its role. The new user is unverified and receives a verification link.
func (s *Service) CreateUser(ctx context.Context, actor domain.Actor, in NewUserInput) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	role := domain.RoleAnonymous
	if in.Role != nil {
		if err := actor.CheckChangesRoles(); err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
		role = *in.Role
	}
	u, err := s.createUser(ctx, in, role, actor.ID)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// createUser creates an unverified account; actorID is the staff member who
// creates it, empty for a self-registration.
func (s *Service) createUser(ctx context.Context, in NewUserInput, role domain.Role, actorID string) (*domain.User, error) {
	email, err := validateNewUser(in)
	if err != nil {
		return nil, err
	}
	// Checked before the costly hash; the store's unique index still decides races.
	if _, err := s.users.UserByEmail(ctx, email); err == nil {
		return nil, domain.ErrEmailTaken
	} else if !errors.Is(err, domain.ErrUserNotFound) {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return nil, err
	}
	u, err := s.insertUser(ctx, in, email, hash, role, func(u *domain.User) {
		u.SetVerificationToken(hashSecret(secret), s.clock.Now().Add(s.cfg.VerificationTTL))
		u.Queue(s.verificationMessage(u, secret))
		if actorID == "" {
			u.Record(s.event(ctx, domain.EventUserRegistered, u.ID(), u.ID(), ""))
		} else {
			u.Record(s.event(ctx, domain.EventUserCreated, actorID, u.ID(), "role "+role.String()))
		}
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return u, nil
}

// insertUser builds and stores a user, generating the nickname when none was
// given and retrying while a generated one is taken.
func (s *Service) insertUser(ctx context.Context, in NewUserInput, email, hash string, role domain.Role, prepare func(*domain.User)) (*domain.User, error) {
	for try := 0; ; try++ {
		nickname := in.Nickname
		if nickname == "" {
			nickname = randomNickname()
		}
		u, err := domain.NewUser(domain.NewUserParams{
			ID: s.ids.NewID(), Email: email, Nickname: nickname, PasswordHash: hash,
			Profile: in.Profile, Role: role, Now: s.clock.Now(),
		})
		if err != nil {
			return nil, err
		}
		prepare(u)
		err = s.users.CreateUser(ctx, u)
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, domain.ErrNicknameTaken) && in.Nickname == "":
			if try+1 >= maxNicknameTries {
				return nil, domain.ErrNicknameExhausted
			}
		default:
			return nil, err
		}
	}
}

// validateNewUser reports every invalid field at once and returns the
// normalised email.
func validateNewUser(in NewUserInput) (string, error) {
	v := &domain.ValidationError{}
	email, err := domain.NormalizeEmail(in.Email)
	v.Merge(err)
	if in.Nickname != "" {
		v.Merge(domain.ValidateNickname(in.Nickname))
	}
	v.Merge(in.Profile.Validate())
	v.Merge(domain.ValidatePassword("password", in.Password, email, in.Nickname))
	return email, v.Err()
}
