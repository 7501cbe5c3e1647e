package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// emailChangeTTL is how long the link of an email change works.
const emailChangeTTL = 24 * time.Hour

// RequestEmailChange starts a change of the caller's email to newEmail,
// confirmed by their password: a single-use link goes to the new address,
// a notice to the old one, and nothing else changes until the link is
// followed (ConfirmEmailChange). A new request replaces an earlier one.
//
// When the new address belongs to another account the caller is told
// nothing different: no link is sent, any earlier request is cancelled all
// the same, and the old address gets the very same notice, so that neither
// the answer nor the caller's own mailbox tells a taken address from a
// free one. The password counts toward the lockout like any other guess:
// a wrong one fails with domain.ErrWrongPassword.
func (s *Service) RequestEmailChange(ctx context.Context, actor domain.Actor, newEmail, password string) error {
	if err := s.requestEmailChange(ctx, actor, newEmail, password); err != nil {
		return fmt.Errorf("request email change: %w", err)
	}
	return nil
}

func (s *Service) requestEmailChange(ctx context.Context, actor domain.Actor, rawEmail, password string) error {
	me, err := s.Me(ctx, actor)
	if err != nil {
		return err
	}
	next, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return renameField(err, "email", "new_email")
	}
	if next == me.Email() {
		return domain.FieldInvalid(domain.FieldError{Field: "new_email", Code: domain.CodeEmailUnchanged})
	}
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	p, err := s.checkPassword(ctx, dctx, "", actor.ID, password)
	if err != nil {
		return err
	}
	taken := false
	if p.ok {
		switch _, err := s.users.UserByEmail(dctx, next); {
		case err == nil:
			taken = true
		case !errors.Is(err, domain.ErrUserNotFound):
			s.abandon(ctx, dctx, p)
			return err
		}
	}
	err = s.decide(ctx, dctx, p, "email change", func(u *domain.User) error {
		detail := "link sent to the new address"
		if taken {
			u.CancelEmailChange()
			detail = "the new address belongs to another account: no link sent"
		} else {
			if err := u.RequestEmailChange(next, hashSecret(secret), s.clock.Now().Add(emailChangeTTL), actor.SessionID); err != nil {
				return err
			}
			u.Queue(domain.Message{
				Kind: domain.MessageEmailChange, To: next, Name: u.DisplayName(),
				Link: s.cfg.PublicBaseURL + "/email-change?token=" + url.QueryEscape(secret),
			})
		}
		u.Queue(domain.Message{Kind: domain.MessageEmailChangeRequested, To: u.Email(), Name: u.DisplayName()})
		u.Record(s.event(ctx, domain.EventEmailChangeAsked, actor.ID, actor.ID, detail))
		return nil
	})
	if err != nil {
		return err
	}
	s.wake()
	return nil
}

// renameField gives the fields named from of a ValidationError the name to
// (the domain's checks name "email"; this input calls it "new_email").
func renameField(err error, from, to string) error {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &domain.ValidationError{Fields: make([]domain.FieldError, len(ve.Fields))}
	for i, f := range ve.Fields {
		if f.Field == from {
			f.Field = to
		}
		out.Fields[i] = f
	}
	return out
}

// ConfirmEmailChange follows the link of an email change: the account moves
// to the new address, which the link verified. Every link sent to the old
// address (reset, unlock, verification) dies, every session but the one
// that asked for the change ends, and the old address is told. Fails with
// domain.ErrInvalidEmailChangeToken for a wrong, spent or expired token, and
// with domain.ErrEmailTaken when another account took the address meanwhile.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*domain.User, error) {
	u, err := s.confirmEmailChange(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("confirm email change: %w", err)
	}
	return s.asOfNow(u), nil
}

func (s *Service) confirmEmailChange(ctx context.Context, token string) (*domain.User, error) {
	if token == "" || len(token) > 512 {
		return nil, domain.ErrInvalidEmailChangeToken
	}
	tokenHash := hashSecret(token)
	u, err := s.users.UserByToken(ctx, ports.TokenEmailChange, tokenHash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return nil, domain.ErrInvalidEmailChangeToken
	}
	if err != nil {
		return nil, err
	}
	var out *domain.User
	err = s.users.UpdateUser(ctx, u.ID(), func(u *domain.User) error {
		old, err := u.ConfirmEmailChange(tokenHash, s.clock.Now())
		if err != nil {
			return err
		}
		u.Queue(domain.Message{Kind: domain.MessageEmailChanged, To: old, Name: u.DisplayName()})
		u.Record(s.event(ctx, domain.EventEmailChanged, u.ID(), u.ID(), old+" -> "+u.Email()))
		out = u
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return nil, domain.ErrInvalidEmailChangeToken
	}
	if err != nil {
		return nil, err
	}
	s.wake()
	return out, nil
}
