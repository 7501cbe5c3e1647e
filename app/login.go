package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// LoginResult is a successful login.
type LoginResult struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	User         *domain.User
}

// decideTimeout bounds the work done after a password check is admitted. It
// runs detached from the caller's context: a client that hangs up must not
// be able to leave its guess uncounted.
const decideTimeout = 30 * time.Second

// unlockTTL is how long the unlock link of a lock email works.
const unlockTTL = 24 * time.Hour

// Login checks an email and password. Unknown emails and wrong passwords fail
// alike with domain.ErrInvalidCredentials; a locked account with
// domain.ErrAccountLocked; a right password on an unverified account with
// domain.ErrEmailNotVerified; a right password on an account with a second
// factor with *SecondFactorRequiredError, whose token the second step
// (LoginSecondFactor) takes with a code.
//
// It costs two short write transactions on the user and no other read: one
// admits the attempt (the lockout's slot), the other decides it, opens the
// session and upgrades a stale hash, together. The slow hash runs between
// them, outside any transaction.
func (s *Service) Login(ctx context.Context, rawEmail, password string) (LoginResult, error) {
	return s.LoginWithCode(ctx, rawEmail, password, "")
}

// LoginWithCode is Login in one step for an account with a second factor:
// code (TOTP or recovery) comes with the password. It is checked only
// after a right password, and a wrong one fails with
// domain.ErrSecondFactorFailed and counts toward the lockout, in the same
// attempt as the password. Without a second factor the code is ignored.
func (s *Service) LoginWithCode(ctx context.Context, rawEmail, password, code string) (LoginResult, error) {
	res, err := s.login(ctx, rawEmail, password, code)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	return res, nil
}

func (s *Service) login(ctx context.Context, rawEmail, password, code string) (LoginResult, error) {
	email, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return LoginResult{}, s.failUnknown(ctx, password)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	p, err := s.checkPassword(ctx, dctx, email, "", password)
	if errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrNoPassword) {
		// An invited account without a password is answered as an unknown
		// email: the same check of the dummy hash, the same audit event,
		// and no lockout slot taken (admission wrote nothing).
		return LoginResult{}, s.failUnknown(ctx, password)
	}
	if err != nil {
		return LoginResult{}, err
	}
	refresh, err := s.secrets.NewSecret()
	if err != nil {
		return LoginResult{}, err
	}
	var (
		out       *domain.User
		sess      domain.Session
		mfaToken  string
		codeLocks bool
	)
	err = s.decide(ctx, dctx, p, "login", func(u *domain.User) error {
		codeLocks = false // a store may run this more than once
		if err := u.CheckCanLogin(); err != nil {
			return err
		}
		now := s.clock.Now()
		if u.MFAEnabled() {
			// The password is half of this login: the code completes it,
			// now or in a second step.
			if code == "" {
				token, err := s.secrets.NewSecret()
				if err != nil {
					return err
				}
				mfaToken = token
				u.SetMFAToken(hashSecret(mfaToken), now.Add(domain.MFATokenTTL))
				return domain.ErrSecondFactorRequired
			}
			used, err := s.checkSecondFactor(u, code, true, now)
			if errors.Is(err, domain.ErrInvalidCode) {
				codeLocks = s.failedCode(ctx, u, "", p.secret, "login", now)
				return domain.ErrSecondFactorFailed
			}
			if err != nil {
				return err
			}
			s.recordUse(ctx, u, "", used)
			sess, out = s.openSecondFactorSession(ctx, u, refresh, now), u
			return nil
		}
		sess = domain.NewSession(s.ids.NewID(), now, s.sessionPolicy(), clientIP(ctx), userAgent(ctx))
		u.OpenSession(sess, hashSecret(refresh))
		u.Record(s.event(ctx, domain.EventLoginSucceeded, u.ID(), u.ID(), ""))
		out = u
		return nil
	})
	if codeLocks {
		s.wake()
	}
	switch {
	case errors.Is(err, domain.ErrUserNotFound): // deleted meanwhile
		return LoginResult{}, s.failUnknown(ctx, password)
	case errors.Is(err, domain.ErrWrongPassword): // a stale proof included
		return LoginResult{}, domain.ErrInvalidCredentials
	case errors.Is(err, domain.ErrSecondFactorRequired):
		return LoginResult{}, &SecondFactorRequiredError{Token: mfaToken, ExpiresIn: domain.MFATokenTTL}
	case err != nil:
		return LoginResult{}, err
	}
	return s.issue(out, sess.ID, refresh, sess.AuthMethods()...)
}

// passwordCheck is a password checked under the lockout, not yet decided.
type passwordCheck struct {
	userID  string
	attempt domain.LoginAttempt
	ok      bool
	newHash string // the password hashed anew when its hash is stale
	secret  string // the unlock link's secret, should the decision lock
}

// checkPassword admits a password check on the account with email (or
// userID), waiting while every slot is held, and checks the password
// outside any transaction. Guesses through every door (login, password
// change, account deletion) share the lockout's MaxAttempts. The check must
// then be decided (decide), which counts it. ctx bounds the wait for
// admission; dctx, detached from the caller, the check, so a client that
// hangs up cannot leave its guess uncounted.
func (s *Service) checkPassword(ctx, dctx context.Context, email, userID, password string) (passwordCheck, error) {
	p, err := s.admit(ctx, email, userID)
	if err != nil {
		return passwordCheck{}, err
	}
	ok, stale, err := s.hasher.Verify(dctx, password, p.attempt.PasswordHash)
	if err == nil && ok && stale {
		// Hashed now, saved with the decision: a failure only means the
		// upgrade waits for the next login.
		if p.newHash, err = s.hasher.Hash(dctx, password); err != nil {
			s.log.WarnContext(ctx, "password hash upgrade skipped", "user_id", p.userID, "error", err)
			p.newHash, err = "", nil
		}
	}
	if err != nil {
		// Not the user's fault: release the slot without counting it.
		if rerr := s.users.UpdateUser(dctx, p.userID, func(u *domain.User) error {
			u.AbandonLoginAttempt()
			return nil
		}); rerr != nil {
			s.log.WarnContext(ctx, "login slot not released", "user_id", p.userID, "error", rerr)
		}
		return passwordCheck{}, err
	}
	p.ok = ok
	return p, nil
}

// admit reserves a password check on the account with email (or userID),
// waiting while every slot is held by attempts in flight.
func (s *Service) admit(ctx context.Context, email, userID string) (passwordCheck, error) {
	secret, err := s.secrets.NewSecret()
	if err != nil {
		return passwordCheck{}, err
	}
	wait := 2 * time.Millisecond
	for {
		var p passwordCheck
		var admitErr error
		// A refusal is saved too: admission may have counted expired
		// attempts as failures, locked or unlocked the account.
		fn := func(u *domain.User) error {
			wasLocked := u.IsLocked()
			p = passwordCheck{userID: u.ID(), secret: secret}
			p.attempt, admitErr = u.BeginLoginAttempt(s.clock.Now(), s.cfg.Lockout)
			if errors.Is(admitErr, domain.ErrNoPassword) {
				return admitErr // nothing changed: nothing is written
			}
			if !wasLocked && u.IsLocked() {
				s.lockedByFailures(ctx, u, secret, "failed password checks counted after their lease")
			}
			return nil
		}
		if userID != "" {
			err = s.users.UpdateUser(ctx, userID, fn)
		} else {
			err = s.users.UpdateUserByEmail(ctx, email, fn)
		}
		if err != nil {
			return passwordCheck{}, err
		}
		if !errors.Is(admitErr, domain.ErrLoginBusy) {
			return p, admitErr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return passwordCheck{}, fmt.Errorf("waiting for a login slot: %w: %w", domain.ErrUnavailable, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// decide records the outcome of a password check in one write of the user:
// the lockout counts it and, when the password was right, then applies,
// with a stale hash upgraded. A wrong password fails with
// domain.ErrWrongPassword. Either way the decision is saved: then's error
// too is returned only after it is, with what then changed, so then must
// refuse before it changes anything but what its refusal owes (the token
// of a login's second step, the count of a wrong second-factor code).
func (s *Service) decide(ctx, dctx context.Context, p passwordCheck, door string, then func(u *domain.User) error) error {
	var refused error
	lockedNow := false
	err := s.users.UpdateUser(dctx, p.userID, func(u *domain.User) error {
		now := s.clock.Now()
		lockedNow, refused = u.EndLoginAttempt(p.attempt, p.ok, now, s.cfg.Lockout)
		switch {
		case errors.Is(refused, domain.ErrPasswordChanged):
			return nil // not the guesser's fault, nor a proof: counted as nothing
		case refused != nil:
			if !p.ok {
				u.Record(s.event(ctx, domain.EventLoginFailed, "", u.ID(), "wrong password ("+door+")"))
			}
			if lockedNow {
				s.lockedByFailures(ctx, u, p.secret, "too many failed password checks")
			}
			return nil
		}
		if p.newHash != "" {
			u.UpgradePasswordHash(p.attempt.PasswordHash, p.newHash)
		}
		refused = then(u)
		return nil
	})
	if err != nil {
		if !errors.Is(err, domain.ErrUserNotFound) {
			// The decision was lost with its write: release the slot, so
			// that our fault does not count as the caller's guess when its
			// lease runs out.
			s.abandon(ctx, dctx, p)
		}
		return err
	}
	if lockedNow {
		s.wake()
	}
	return refused
}

// lockedByFailures is what a lock caused by wrong passwords owes: the owner
// gets an email with a single-use link that lifts it, and the audit log an event.
func (s *Service) lockedByFailures(ctx context.Context, u *domain.User, secret, why string) {
	u.SetUnlockToken(hashSecret(secret), s.clock.Now().Add(unlockTTL))
	u.Queue(domain.Message{
		Kind: domain.MessageLocked, To: u.Email(), Name: u.DisplayName(),
		Link: s.cfg.PublicBaseURL + "/unlock?token=" + url.QueryEscape(secret),
	})
	u.Record(s.event(ctx, domain.EventAccountLocked, "", u.ID(), why))
}

// failUnknown spends the time a real password check takes, so that the
// answer for an unknown email cannot be told apart by its timing.
func (s *Service) failUnknown(ctx context.Context, password string) error {
	if _, _, err := s.hasher.Verify(ctx, password, s.dummyHash); err != nil {
		return err
	}
	s.recordEvent(ctx, s.event(ctx, domain.EventLoginFailed, "", "", "unknown email"))
	return domain.ErrInvalidCredentials
}

// sessionPolicy is how long sessions last.
func (s *Service) sessionPolicy() domain.SessionPolicy {
	return domain.SessionPolicy{TTL: s.cfg.RefreshTTL, MaxAge: s.cfg.SessionMaxAge}
}
