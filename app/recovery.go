package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// RequestPasswordReset emails a single-use reset link if the account exists.
// The caller learns nothing: the answer is the same for unknown emails.
func (s *Service) RequestPasswordReset(ctx context.Context, rawEmail string) error {
	email, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	err = s.updateByEmail(ctx, email, domain.EventResetRequested, func(u *domain.User) {
		now := s.clock.Now()
		u.SetResetToken(hashSecret(secret), now.Add(s.cfg.ResetTTL))
		u.Queue(domain.Message{
			Kind: domain.MessagePasswordReset, To: u.Email(), Name: u.DisplayName(),
			Link: s.cfg.PublicBaseURL + "/password-reset?token=" + url.QueryEscape(secret),
		})
		u.Record(s.event(ctx, domain.EventResetRequested, "", u.ID(), ""))
	})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// ResendVerification emails a new verification link to an unverified
// account; the answer is the same for unknown and verified emails.
func (s *Service) ResendVerification(ctx context.Context, rawEmail string) error {
	email, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	err = s.updateByEmail(ctx, email, domain.EventVerificationResent, func(u *domain.User) {
		u.Record(s.event(ctx, domain.EventVerificationResent, "", u.ID(), ""))
		if u.IsEmailVerified() {
			return
		}
		u.SetVerificationToken(hashSecret(secret), s.clock.Now().Add(s.cfg.VerificationTTL))
		u.Queue(s.verificationMessage(u, secret))
	})
	if err != nil {
		return fmt.Errorf("resend verification: %w", err)
	}
	return nil
}

// updateByEmail applies fn to the account with email, if there is one, and
// wakes the dispatcher. An unknown email is not an error: it writes an audit
// event of type ev instead, so that both answers cost a write and timing
// does not tell them apart (and the probing shows in the audit log). An
// invited account without a password is answered the same way, with the
// same write: its invitation is the one way in, and neither a reset link
// nor a verification link is sent to it.
func (s *Service) updateByEmail(ctx context.Context, email string, ev domain.AuditEventType, fn func(*domain.User)) error {
	err := s.users.UpdateUserByEmail(ctx, email, func(u *domain.User) error {
		if !u.HasPassword() {
			return domain.ErrNoPassword
		}
		fn(u)
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrNoPassword) {
		return s.audit.RecordEvent(ctx, s.event(ctx, ev, "", "", "unknown email"))
	}
	if err != nil {
		return err
	}
	s.wake()
	return nil
}

// verificationMessage is the email with a user's verification link.
func (s *Service) verificationMessage(u *domain.User, secret string) domain.Message {
	return domain.Message{
		Kind: domain.MessageVerifyEmail, To: u.Email(), Name: u.DisplayName(),
		Link: s.cfg.PublicBaseURL + "/verify-email/" + u.ID() + "/" + secret,
	}
}

// ConfirmPasswordReset sets a new password with a reset token: the account
// is unlocked and every session and access token ends.
func (s *Service) ConfirmPasswordReset(ctx context.Context, token, newPassword string) error {
	if err := s.confirmPasswordReset(ctx, token, newPassword); err != nil {
		return fmt.Errorf("confirm password reset: %w", err)
	}
	return nil
}

func (s *Service) confirmPasswordReset(ctx context.Context, token, newPassword string) error {
	if token == "" || len(token) > 512 {
		return domain.ErrInvalidResetToken
	}
	tokenHash := hashSecret(token)
	u, err := s.users.UserByToken(ctx, ports.TokenPasswordReset, tokenHash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidResetToken
	}
	if err != nil {
		return err
	}
	if err := domain.ValidatePassword("new_password", newPassword, u.Email(), u.Nickname()); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	// One write: the new password, the unlock, and the end of every session
	// (ResetPassword bumps the token version they are checked against).
	err = s.users.UpdateUser(ctx, u.ID(), func(u *domain.User) error {
		if err := u.ResetPassword(tokenHash, hash, s.clock.Now()); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventPasswordReset, u.ID(), u.ID(), ""))
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidResetToken
	}
	return err
}

// ChangePassword replaces the caller's password after checking the current
// one; every other session of theirs ends, the caller's stays.
func (s *Service) ChangePassword(ctx context.Context, actor domain.Actor, current, newPassword string) error {
	if err := s.changePassword(ctx, actor, current, newPassword); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

func (s *Service) changePassword(ctx context.Context, actor domain.Actor, current, newPassword string) error {
	me, err := s.Me(ctx, actor)
	if err != nil {
		return err
	}
	if err := domain.ValidatePassword("new_password", newPassword, me.Email(), me.Nickname()); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	// The current password is a guess like any other: it counts toward the lockout.
	p, err := s.checkPassword(ctx, dctx, "", actor.ID, current)
	if err != nil {
		return err
	}
	var hash string
	if p.ok {
		if hash, err = s.hasher.Hash(dctx, newPassword); err != nil {
			// The check stands undecided until its lease ends: a failure of
			// ours must not count as the caller's guess, so release it.
			s.abandon(ctx, dctx, p)
			return err
		}
	}
	// The decision, the new password and the end of the other sessions are
	// one write: no failure leaves the new password with old sessions alive.
	return s.decide(ctx, dctx, p, "password change", func(u *domain.User) error {
		u.ChangePassword(hash, actor.SessionID, s.clock.Now())
		u.Record(s.event(ctx, domain.EventPasswordChanged, actor.ID, actor.ID, ""))
		return nil
	})
}

// abandon releases a checked password's slot without deciding it.
func (s *Service) abandon(ctx, dctx context.Context, p passwordCheck) {
	if err := s.users.UpdateUser(dctx, p.userID, func(u *domain.User) error {
		u.AbandonLoginAttempt()
		return nil
	}); err != nil {
		s.log.WarnContext(ctx, "login slot not released", "user_id", p.userID, "error", err)
	}
}

// DeleteMe deletes the caller's own account after checking their password.
// The last ADMIN cannot leave.
func (s *Service) DeleteMe(ctx context.Context, actor domain.Actor, password string) error {
	if err := s.deleteMe(ctx, actor, password); err != nil {
		return fmt.Errorf("delete me: %w", err)
	}
	return nil
}

func (s *Service) deleteMe(ctx context.Context, actor domain.Actor, password string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	p, err := s.checkPassword(ctx, dctx, "", actor.ID, password)
	if err != nil {
		return err
	}
	if !p.ok {
		return s.decide(ctx, dctx, p, "account deletion", func(*domain.User) error { return nil })
	}
	// A right password is decided by the deletion itself: the account and
	// its slot go together.
	err = s.users.DeleteUser(dctx, actor.ID, func(u *domain.User, admins int) error {
		if _, err := u.EndLoginAttempt(p.attempt, true, s.clock.Now(), s.cfg.Lockout); err != nil {
			return err // changed meanwhile, or locked: not a proof any more
		}
		if err := domain.CheckAdminRemains(u, domain.Role{}, admins); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventUserDeleted, actor.ID, actor.ID, "deleted own account"))
		return nil
	})
	if err != nil && !errors.Is(err, domain.ErrUserNotFound) {
		// Refused, so nothing was saved: the slot is released apart (a
		// rare path: the last admin, or a password changed meanwhile).
		s.abandon(ctx, dctx, p)
	}
	return err
}
