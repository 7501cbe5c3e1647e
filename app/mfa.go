package app

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The second factor (PRODUCT.md 8.1): enrolment with the password,
// confirmation with a first code, recovery codes, removal, an ADMIN's
// reset, and the second step of a login. Every code checked counts toward
// the lockout when wrong, with the wrong passwords: a code guarded by a
// password, or by nothing but an mfa_token, is checked in the same write
// that admits it and decides it (a code takes microseconds to check, so no
// slot is held across transactions as a password's is).

// totpIssuer names the service in authenticator apps.
const totpIssuer = "usersvc"

// totpLabel binds a sealed TOTP secret to its user: copied to another row,
// it does not open.
func totpLabel(userID string) string { return "totp:" + userID }

// base32NoPad is how secrets and recovery codes are written: RFC 4648
// base32 without padding (a 160-bit secret needs none).
var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPEnrolment is a new TOTP secret, shown once: in base32, and as the
// otpauth URI an authenticator app reads from a QR code.
type TOTPEnrolment struct {
	Secret string
	URI    string
}

// SecondFactorRequiredError is Login's answer to a right password on an
// account with a second factor and no code: nothing is issued yet, and the
// second step (LoginSecondFactor) takes Token with a code, within
// ExpiresIn. It wraps domain.ErrSecondFactorRequired; its message holds
// no token.
type SecondFactorRequiredError struct {
	Token     string
	ExpiresIn time.Duration
}

func (e *SecondFactorRequiredError) Error() string { return domain.ErrSecondFactorRequired.Error() }

func (e *SecondFactorRequiredError) Unwrap() error { return domain.ErrSecondFactorRequired }

// otpauthURI is the key URI of a secret (Google Authenticator's format),
// with every parameter spelled out.
func otpauthURI(email, secret string) string {
	return "otpauth://totp/" + totpIssuer + ":" + url.PathEscape(email) +
		"?secret=" + secret + "&issuer=" + totpIssuer + "&algorithm=SHA1" +
		"&digits=" + strconv.Itoa(domain.TOTPDigits) +
		"&period=" + strconv.Itoa(int(domain.TOTPPeriod/time.Second))
}

// randomBytes returns n (at most 32) random bytes. The Secrets port is the
// use cases' one source of randomness: its secrets carry 260 random bits,
// and SHA-256 turns one into bytes as random, of the size a key needs.
func (s *Service) randomBytes(n int) ([]byte, error) {
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:n], nil
}

// newRecoveryCodes makes a set of recovery codes, as shown to their owner
// (xxxx-xxxx-xxxx-xxxx, 80 random bits each) and as stored (hashed).
func (s *Service) newRecoveryCodes() ([]string, domain.RecoveryCodes, error) {
	var hashes domain.RecoveryCodes
	codes := make([]string, len(hashes))
	for i := range codes {
		b, err := s.randomBytes(domain.RecoveryCodeLen * 5 / 8)
		if err != nil {
			return nil, hashes, err
		}
		raw := strings.ToLower(base32NoPad.EncodeToString(b))
		codes[i] = raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:16]
		hashes[i] = hashSecret(raw)
	}
	return codes, hashes, nil
}

// mfaMessage is an email telling the owner that their second factor changed.
func mfaMessage(u *domain.User, kind domain.MessageKind) domain.Message {
	return domain.Message{Kind: kind, To: u.Email(), Name: u.DisplayName()}
}

// EnrolTOTP starts an enrolment: after the caller's password (a guess like
// any other: it counts toward the lockout), a new secret is kept pending,
// sealed, until ConfirmTOTP; a pending one is replaced. Fails with
// domain.ErrWrongPassword, or domain.ErrMFAEnabled when a second factor is
// on already.
func (s *Service) EnrolTOTP(ctx context.Context, actor domain.Actor, password string) (TOTPEnrolment, error) {
	e, err := s.enrolTOTP(ctx, actor, password)
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("enrol totp: %w", err)
	}
	return e, nil
}

func (s *Service) enrolTOTP(ctx context.Context, actor domain.Actor, password string) (TOTPEnrolment, error) {
	key, err := s.randomBytes(domain.TOTPKeyLen)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := s.box.Seal(key, totpLabel(actor.ID))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	p, err := s.checkPassword(ctx, dctx, "", actor.ID, password)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var email string
	err = s.decide(ctx, dctx, p, "second factor enrolment", func(u *domain.User) error {
		if err := u.BeginTOTPEnrolment(sealed, s.clock.Now()); err != nil {
			return err
		}
		email = u.Email()
		return nil
	})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	secret := base32NoPad.EncodeToString(key)
	return TOTPEnrolment{Secret: secret, URI: otpauthURI(email, secret)}, nil
}

// ConfirmTOTP puts the pending secret in force with a first code of it and
// returns the first recovery codes, shown once. Every session but the
// caller's ends, and the owner is emailed. Fails with domain.ErrInvalidCode
// (which does not count toward the lockout: the secret guards nothing yet)
// or domain.ErrNoPendingMFA.
func (s *Service) ConfirmTOTP(ctx context.Context, actor domain.Actor, code string) ([]string, error) {
	codes, err := s.confirmTOTP(ctx, actor, code)
	if err != nil {
		return nil, fmt.Errorf("confirm totp: %w", err)
	}
	return codes, nil
}

func (s *Service) confirmTOTP(ctx context.Context, actor domain.Actor, code string) ([]string, error) {
	codes, hashes, err := s.newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	var refused error
	err = s.users.UpdateUser(ctx, actor.ID, func(u *domain.User) error {
		refused = nil
		sealed := u.SealedPendingTOTPSecret()
		if sealed == "" {
			return domain.ErrNoPendingMFA
		}
		key, err := s.box.Open(sealed, totpLabel(u.ID()))
		if err != nil {
			return fmt.Errorf("opening the pending TOTP secret: %w", err)
		}
		if err := u.ConfirmTOTP(key, code, hashes, actor.SessionID, s.clock.Now()); err != nil {
			if !errors.Is(err, domain.ErrInvalidCode) {
				return err
			}
			u.Record(s.event(ctx, domain.EventMFACodeFailed, actor.ID, u.ID(), "wrong code (enrolment)"))
			refused = err
			return nil
		}
		u.Record(s.event(ctx, domain.EventMFAEnabled, actor.ID, u.ID(), ""))
		u.Queue(mfaMessage(u, domain.MessageMFAEnabled))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	s.wake()
	return codes, nil
}

// DisableTOTP turns the caller's second factor off after their password and
// a code (TOTP or recovery), each counting toward the lockout when wrong;
// the owner is emailed. Fails with domain.ErrWrongPassword,
// domain.ErrInvalidCode or domain.ErrMFANotEnabled.
func (s *Service) DisableTOTP(ctx context.Context, actor domain.Actor, password, code string) error {
	if err := s.disableTOTP(ctx, actor, password, code); err != nil {
		return fmt.Errorf("disable totp: %w", err)
	}
	return nil
}

func (s *Service) disableTOTP(ctx context.Context, actor domain.Actor, password, code string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	p, err := s.checkPassword(ctx, dctx, "", actor.ID, password)
	if err != nil {
		return err
	}
	lockedNow := false
	// The password's slot is decided with the code: one attempt, counted
	// once, whichever of the two is wrong.
	err = s.decide(ctx, dctx, p, "second factor removal", func(u *domain.User) error {
		now := s.clock.Now()
		used, err := s.checkSecondFactor(u, code, true, now)
		if errors.Is(err, domain.ErrInvalidCode) {
			lockedNow = s.failedCode(ctx, u, actor.ID, p.secret, "second factor removal", now)
			return err
		}
		if err != nil {
			return err
		}
		s.recordUse(ctx, u, actor.ID, used)
		if err := u.DisableMFA(now); err != nil {
			return err
		}
		u.Record(s.event(ctx, domain.EventMFADisabled, actor.ID, u.ID(), ""))
		u.Queue(mfaMessage(u, domain.MessageMFADisabled))
		return nil
	})
	if err == nil || lockedNow {
		s.wake()
	}
	return err
}

// RegenerateRecoveryCodes replaces the caller's recovery codes after a TOTP
// code (a recovery code is not enough: it would replace itself), and
// returns the new ones, shown once. A wrong code counts toward the lockout.
// Fails with domain.ErrInvalidCode or domain.ErrMFANotEnabled.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, actor domain.Actor, code string) ([]string, error) {
	codes, hashes, err := s.newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	err = s.checkCode(ctx, actor.ID, codeCheck{
		actorID: actor.ID, door: "new recovery codes", code: code,
		pre: func(u *domain.User, _ time.Time) error {
			if !u.MFAEnabled() {
				return domain.ErrMFANotEnabled
			}
			return nil
		},
		then: func(u *domain.User, _ domain.SecondFactorUsed, now time.Time) error {
			if err := u.ReplaceRecoveryCodes(hashes, now); err != nil {
				return err
			}
			u.Record(s.event(ctx, domain.EventRecoveryCodesRegenerated, actor.ID, u.ID(), ""))
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("regenerate recovery codes: %w", err)
	}
	return codes, nil
}

// ResetSecondFactor turns a user's second factor off on behalf of an ADMIN
// (its owner lost it): every session of the user ends and the owner is
// emailed. A user without one is returned unchanged. Fails with
// domain.ErrNotPermitted for anyone but an ADMIN, domain.ErrUserNotFound.
func (s *Service) ResetSecondFactor(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error) {
	if err := actor.CheckChangesRoles(); err != nil { // ADMIN only
		return nil, fmt.Errorf("reset second factor: %w", err)
	}
	changed := false
	u, err := s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		if changed = u.ResetMFA(s.clock.Now()); changed {
			u.Record(s.event(ctx, domain.EventMFAReset, actor.ID, u.ID(), ""))
			u.Queue(mfaMessage(u, domain.MessageMFAReset))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reset second factor: %w", err)
	}
	if changed {
		s.wake()
	}
	return u, nil
}

// LoginSecondFactor is the second step of a login whose password was right
// (Login answered *SecondFactorRequiredError): the mfa_token and a code,
// TOTP or recovery. It answers as Login does, with a session that proved
// both factors. Fails with domain.ErrInvalidMFAToken (unknown, expired or
// spent), domain.ErrSecondFactorFailed for a wrong code (which counts
// toward the lockout) and domain.ErrAccountLocked.
func (s *Service) LoginSecondFactor(ctx context.Context, mfaToken, code string) (LoginResult, error) {
	res, err := s.loginSecondFactor(ctx, mfaToken, code)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login second factor: %w", err)
	}
	return res, nil
}

func (s *Service) loginSecondFactor(ctx context.Context, mfaToken, code string) (LoginResult, error) {
	if mfaToken == "" || len(mfaToken) > 512 {
		return LoginResult{}, domain.ErrInvalidMFAToken
	}
	hash := hashSecret(mfaToken)
	u, err := s.users.UserByToken(ctx, ports.TokenMFA, hash)
	if errors.Is(err, domain.ErrUserNotFound) {
		return LoginResult{}, domain.ErrInvalidMFAToken
	}
	if err != nil {
		return LoginResult{}, err
	}
	refresh, err := s.secrets.NewSecret()
	if err != nil {
		return LoginResult{}, err
	}
	var (
		out  *domain.User
		sess domain.Session
	)
	err = s.checkCode(ctx, u.ID(), codeCheck{
		door: "login", code: code, allowRecovery: true,
		pre: func(u *domain.User, now time.Time) error { return u.CheckMFAToken(hash, now) },
		then: func(u *domain.User, _ domain.SecondFactorUsed, now time.Time) error {
			if err := u.CheckCanLogin(); err != nil {
				return err
			}
			if err := u.ConsumeMFAToken(hash, now); err != nil {
				return err
			}
			sess = s.openSecondFactorSession(ctx, u, refresh, now)
			out = u
			return nil
		},
	})
	switch {
	case errors.Is(err, domain.ErrUserNotFound):
		return LoginResult{}, domain.ErrInvalidMFAToken
	case errors.Is(err, domain.ErrInvalidCode):
		return LoginResult{}, domain.ErrSecondFactorFailed
	case err != nil:
		return LoginResult{}, err
	}
	return s.issue(out, sess.ID, refresh, sess.AuthMethods()...)
}

// openSecondFactorSession completes a login that proved both factors: the
// count of failures resets and a session opens that remembers it.
func (s *Service) openSecondFactorSession(ctx context.Context, u *domain.User, refresh string, now time.Time) domain.Session {
	u.CompleteLogin(now)
	sess := domain.NewSession(s.ids.NewID(), now, s.sessionPolicy(), clientIP(ctx), userAgent(ctx))
	sess.SecondFactor = true
	u.OpenSession(sess, hashSecret(refresh))
	u.Record(s.event(ctx, domain.EventLoginSucceeded, u.ID(), u.ID(), "with a second factor"))
	return sess
}

// checkSecondFactor checks code against u's second factor, opening its
// sealed secret, and spends it (domain.User.CheckSecondFactor).
func (s *Service) checkSecondFactor(u *domain.User, code string, allowRecovery bool, now time.Time) (domain.SecondFactorUsed, error) {
	if !u.MFAEnabled() {
		return 0, domain.ErrMFANotEnabled
	}
	key, err := s.box.Open(u.SealedTOTPSecret(), totpLabel(u.ID()))
	if err != nil {
		return 0, fmt.Errorf("opening the TOTP secret: %w", err)
	}
	recoveryHash := ""
	if c, ok := domain.NormalizeRecoveryCode(code); ok && allowRecovery {
		recoveryHash = hashSecret(c)
	}
	return u.CheckSecondFactor(key, code, recoveryHash, allowRecovery, now)
}

// recordUse records the use of a recovery code, which its owner should
// know of (one fewer left, or someone else holds them).
func (s *Service) recordUse(ctx context.Context, u *domain.User, actorID string, used domain.SecondFactorUsed) {
	if used == domain.UsedRecoveryCode {
		u.Record(s.event(ctx, domain.EventRecoveryCodeUsed, actorID, u.ID(),
			strconv.Itoa(u.RecoveryCodesLeft())+" left"))
	}
}

// failedCode counts a wrong code toward the lockout in the change that
// checked it, and reports whether it locked the account (which then owes
// its owner the lock email, with secret as its unlock link).
func (s *Service) failedCode(ctx context.Context, u *domain.User, actorID, secret, door string, now time.Time) bool {
	u.Record(s.event(ctx, domain.EventMFACodeFailed, actorID, u.ID(), "wrong code ("+door+")"))
	if !u.CountFailedCode(now, s.cfg.Lockout) {
		return false
	}
	s.lockedByFailures(ctx, u, secret, "too many failed checks")
	return true
}

// codeCheck is a second-factor code that checkCode admits, checks and
// decides in one write of the user.
type codeCheck struct {
	actorID       string // who offers the code; empty at a login
	door          string // where, for the audit log
	code          string
	allowRecovery bool
	// pre runs before anything else; its error is returned, nothing is
	// saved and the code is not checked.
	pre func(u *domain.User, now time.Time) error
	// then makes the change a right code (spent by then) allows; its
	// error is returned and nothing is saved.
	then func(u *domain.User, used domain.SecondFactorUsed, now time.Time) error
}

// checkCode admits c's code under the lockout, checks it and decides it,
// all in one write of user userID, waiting while the attempts in flight
// could still fill the lockout. A wrong code is counted (and may lock the
// account) and fails with domain.ErrInvalidCode; a locked account fails
// with domain.ErrAccountLocked. Either is saved before it is returned.
func (s *Service) checkCode(ctx context.Context, userID string, c codeCheck) error {
	secret, err := s.secrets.NewSecret() // the unlock link, should a wrong code lock
	if err != nil {
		return err
	}
	wait := 2 * time.Millisecond
	for {
		var refused error
		lockedNow := false
		err := s.users.UpdateUser(ctx, userID, func(u *domain.User) error {
			refused, lockedNow = nil, false
			now := s.clock.Now()
			if err := c.pre(u, now); err != nil {
				return err
			}
			wasLocked := u.IsLocked()
			if err := u.AdmitCodeCheck(now, s.cfg.Lockout); err != nil {
				// Admission may have counted expired attempts and
				// locked, or lifted an expired lock: saved.
				if !wasLocked && u.IsLocked() {
					s.lockedByFailures(ctx, u, secret, "failed checks counted after their lease")
					lockedNow = true
				}
				refused = err
				return nil
			}
			used, err := s.checkSecondFactor(u, c.code, c.allowRecovery, now)
			if errors.Is(err, domain.ErrInvalidCode) {
				lockedNow = s.failedCode(ctx, u, c.actorID, secret, c.door, now)
				refused = err
				return nil
			}
			if err != nil {
				return err
			}
			s.recordUse(ctx, u, c.actorID, used)
			return c.then(u, used, now)
		})
		if lockedNow && err == nil {
			s.wake()
		}
		if err != nil {
			return err
		}
		if !errors.Is(refused, domain.ErrLoginBusy) {
			return refused
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for a login slot: %w: %w", domain.ErrUnavailable, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}
