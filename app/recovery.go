package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/usersvc/usersvc/domain"
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
// does not tell them apart (and the probing shows in the audit log).
func (s *Service) updateByEmail(ctx context.Context, email string, ev domain.AuditEventType, fn func(*domain.User)) error {
	u, err := s.users.UserByEmail(ctx, email)
	if errors.Is(err, domain.ErrUserNotFound) {
		return s.audit.RecordEvent(ctx, s.event(ctx, ev, "", "", "unknown email"))
	}
	if err != nil {
		return err
	}
	err = s.users.UpdateUser(ctx, u.ID(), func(u *domain.User) error {
		fn(u)
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) { // deleted meanwhile
		return nil
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
	id, err := s.users.UserIDByResetTokenHash(ctx, tokenHash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidResetToken
	}
	if err != nil {
		return err
	}
	u, err := s.users.UserByID(ctx, id)
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
	err = s.users.UpdateUser(ctx, id, func(u *domain.User) error {
		if err := u.ResetPassword(tokenHash, hash, s.clock.Now()); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventPasswordReset, u.ID(), u.ID(), ""))
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) {
		return domain.ErrInvalidResetToken
	}
	if err != nil {
		return err
	}
	_, err = s.sessions.RevokeUserSessions(ctx, id, "", s.clock.Now())
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
	u, err := s.users.UserByID(ctx, actor.ID)
	if err != nil {
		return err
	}
	if err := domain.ValidatePassword("new_password", newPassword, u.Email(), u.Nickname()); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	// The current password is a guess like any other: it counts toward the lockout.
	if u, _, err = s.checkAccountPassword(ctx, dctx, actor.ID, current, "password change"); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(dctx, newPassword)
	if err != nil {
		return err
	}
	// The other sessions end after the change: one that exists by then is
	// revoked here; one a racing login opens later sees the new hash and
	// ends itself (startSession). The caller's session is never touched.
	err = s.users.UpdateUser(dctx, actor.ID, func(cur *domain.User) error {
		if cur.PasswordHash() != u.PasswordHash() || cur.TokenVersion() != u.TokenVersion() {
			return domain.ErrWrongPassword // changed or reset meanwhile: the proof is stale
		}
		cur.ChangePassword(hash, s.clock.Now())
		cur.Record(s.event(ctx, domain.EventPasswordChanged, actor.ID, actor.ID, ""))
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.sessions.RevokeUserSessions(dctx, actor.ID, actor.SessionID, s.clock.Now())
	return err
}

// DeleteMe deletes the caller's own account after checking their password.
// The last ADMIN cannot leave.
func (s *Service) DeleteMe(ctx context.Context, actor domain.Actor, password string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	proven, _, err := s.checkAccountPassword(ctx, dctx, actor.ID, password, "account deletion")
	if err != nil {
		return fmt.Errorf("delete me: %w", err)
	}
	err = s.users.DeleteUser(dctx, actor.ID, func(u *domain.User, admins int) error {
		if u.PasswordHash() != proven.PasswordHash() || u.TokenVersion() != proven.TokenVersion() {
			return domain.ErrWrongPassword // changed or reset meanwhile: the proof is stale
		}
		if err := domain.CheckAdminRemains(u, domain.Role{}, admins); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventUserDeleted, actor.ID, actor.ID, "deleted own account"))
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete me: %w", err)
	}
	return nil
}
