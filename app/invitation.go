package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// InviteInput is what staff send to invite someone.
type InviteInput struct {
	Email    string
	Nickname string // empty: generate one
	Profile  domain.Profile
	Role     *domain.Role // ADMIN only; nil: AUTHENTICATED
}

// InviteUser creates an account on behalf of staff without a password: the
// person sets one with the single-use link mailed to them (valid
// Config.InvitationTTL), which also verifies the address and signs them in.
// The role is AUTHENTICATED unless an ADMIN chooses another. Fails with
// domain.ErrEmailTaken or domain.ErrNicknameTaken.
func (s *Service) InviteUser(ctx context.Context, actor domain.Actor, in InviteInput) (*domain.User, error) {
	u, err := s.inviteUser(ctx, actor, in)
	if err != nil {
		return nil, fmt.Errorf("invite user: %w", err)
	}
	return u, nil
}

func (s *Service) inviteUser(ctx context.Context, actor domain.Actor, in InviteInput) (*domain.User, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, err
	}
	role := domain.RoleAuthenticated
	if in.Role != nil {
		if err := actor.CheckChangesRoles(); err != nil {
			return nil, err
		}
		role = *in.Role
	}
	v := &domain.ValidationError{}
	email, err := domain.NormalizeEmail(in.Email)
	v.Merge(err)
	if in.Nickname != "" {
		v.Merge(domain.ValidateNickname(in.Nickname))
	}
	v.Merge(in.Profile.Validate())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if _, err := s.users.UserByEmail(ctx, email); err == nil {
		return nil, domain.ErrEmailTaken
	} else if !errors.Is(err, domain.ErrUserNotFound) {
		return nil, err
	}
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return nil, err
	}
	nu := NewUserInput{Email: email, Nickname: in.Nickname, Profile: in.Profile}
	u, err := s.insertUser(ctx, nu, email, "", role, func(u *domain.User) {
		u.Invite(hashSecret(secret), s.clock.Now().Add(s.cfg.InvitationTTL))
		u.Queue(s.invitationMessage(u, secret))
		u.Record(s.event(ctx, domain.EventUserInvited, actor.ID, u.ID(), "role "+role.String()))
	})
	if err != nil {
		return nil, err
	}
	s.wake()
	return u, nil
}

// InviteNew records an invitation on a new account that has no password
// (a line of an import): the hashed link token, the email that carries
// the link, and the audit event; the store saves them with the account.
func (s *Service) InviteNew(ctx context.Context, actor domain.Actor, u *domain.User) error {
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	u.Invite(hashSecret(secret), s.clock.Now().Add(s.cfg.InvitationTTL))
	u.Queue(s.invitationMessage(u, secret))
	u.Record(s.event(ctx, domain.EventUserInvited, actor.ID, u.ID(), "imported, role "+u.Role().String()))
	return nil
}

// invitationMessage is the email with an invitation link.
func (s *Service) invitationMessage(u *domain.User, secret string) domain.Message {
	return domain.Message{
		Kind: domain.MessageInvitation, To: u.Email(), Name: u.DisplayName(),
		Link: s.cfg.PublicBaseURL + "/invitation?token=" + url.QueryEscape(secret),
	}
}

// ResendInvitation mails a new invitation link on behalf of staff; the
// earlier link dies. Fails with domain.ErrInvitationAlreadyAccepted once
// the invitation was accepted.
func (s *Service) ResendInvitation(ctx context.Context, actor domain.Actor, userID string) error {
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return fmt.Errorf("resend invitation: %w", err)
	}
	_, err = s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		if err := u.ReissueInvitation(hashSecret(secret), s.clock.Now().Add(s.cfg.InvitationTTL)); err != nil {
			return err
		}
		u.Queue(s.invitationMessage(u, secret))
		u.Record(s.event(ctx, domain.EventInvitationResent, actor.ID, u.ID(), ""))
		return nil
	})
	if err != nil {
		return fmt.Errorf("resend invitation: %w", err)
	}
	s.wake()
	return nil
}

// AcceptInvitationInput is an invitation link followed with a password.
type AcceptInvitationInput struct {
	Token    string
	Password string
	// SignIn opens a session and issues its tokens, as a login does (the
	// API); the invitation page's form only sets the password.
	SignIn bool
}

// AcceptInvitation sets the password of an invited account with the
// invitation link, which verifies its address; with SignIn it also signs
// the person in, in the same write. Fails with domain.ErrInvalidInvitation
// for a wrong, spent or expired token, with a ValidationError for a
// password the policy refuses, and with domain.ErrAccountLocked when staff
// locked the account meanwhile (nothing is saved then).
func (s *Service) AcceptInvitation(ctx context.Context, in AcceptInvitationInput) (LoginResult, error) {
	res, err := s.acceptInvitation(ctx, in)
	if err != nil {
		return LoginResult{}, fmt.Errorf("accept invitation: %w", err)
	}
	return res, nil
}

func (s *Service) acceptInvitation(ctx context.Context, in AcceptInvitationInput) (LoginResult, error) {
	if in.Token == "" || len(in.Token) > 512 {
		return LoginResult{}, domain.ErrInvalidInvitation
	}
	tokenHash := hashSecret(in.Token)
	u, err := s.users.UserByToken(ctx, ports.TokenInvitation, tokenHash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return LoginResult{}, domain.ErrInvalidInvitation
	}
	if err != nil {
		return LoginResult{}, err
	}
	if err := domain.ValidatePassword("password", in.Password, u.Email(), u.Nickname()); err != nil {
		return LoginResult{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return LoginResult{}, err
	}
	refresh := ""
	if in.SignIn {
		if refresh, err = s.secrets.NewSecret(); err != nil {
			return LoginResult{}, err
		}
	}
	var out *domain.User
	var sessionID string
	err = s.users.UpdateUser(ctx, u.ID(), func(u *domain.User) error {
		now := s.clock.Now()
		if err := u.AcceptInvitation(tokenHash, hash, now); err != nil {
			return err
		}
		if err := u.CheckCanLogin(); err != nil {
			return err // locked by staff: the invitation stays as it was
		}
		u.Record(s.event(ctx, domain.EventInvitationAccepted, u.ID(), u.ID(), ""))
		if in.SignIn {
			sess := domain.NewSession(s.ids.NewID(), now, s.sessionPolicy(), clientIP(ctx), userAgent(ctx))
			u.OpenSession(sess, hashSecret(refresh))
			u.MarkSignedIn(now)
			u.Record(s.event(ctx, domain.EventLoginSucceeded, u.ID(), u.ID(), "invitation accepted"))
			sessionID = sess.ID
		}
		out = u
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return LoginResult{}, domain.ErrInvalidInvitation
	}
	if err != nil {
		return LoginResult{}, err
	}
	if !in.SignIn {
		return LoginResult{User: out}, nil
	}
	return s.issue(out, sessionID, refresh)
}
