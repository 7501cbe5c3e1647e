package app

import (
	"context"
	"errors"
	"fmt"
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

// Login checks an email and password. Unknown emails and wrong passwords fail
// alike with domain.ErrInvalidCredentials; a locked account with
// domain.ErrAccountLocked; a right password on an unverified account with
// domain.ErrEmailNotVerified.
func (s *Service) Login(ctx context.Context, rawEmail, password string) (LoginResult, error) {
	res, err := s.login(ctx, rawEmail, password)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	return res, nil
}

func (s *Service) login(ctx context.Context, rawEmail, password string) (LoginResult, error) {
	email, err := domain.NormalizeEmail(rawEmail)
	if err != nil {
		return LoginResult{}, s.failUnknown(ctx, password)
	}
	u, err := s.users.UserByEmail(ctx, email)
	if errors.Is(err, domain.ErrUserNotFound) {
		return LoginResult{}, s.failUnknown(ctx, password)
	}
	if err != nil {
		return LoginResult{}, err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decideTimeout)
	defer cancel()
	u, stale, err := s.checkAccountPassword(ctx, dctx, u.ID(), password, "login")
	switch {
	case errors.Is(err, domain.ErrUserNotFound): // deleted meanwhile
		return LoginResult{}, s.failUnknown(ctx, password)
	case errors.Is(err, domain.ErrWrongPassword):
		return LoginResult{}, domain.ErrInvalidCredentials
	case err != nil:
		return LoginResult{}, err
	}
	if err := u.CheckCanLogin(); err != nil {
		return LoginResult{}, err
	}
	res, err := s.startSession(dctx, u, password)
	if err == nil && stale {
		s.rehash(dctx, u.ID(), password, u.PasswordHash())
	}
	return res, err
}

// checkAccountPassword checks a password of account id under the lockout:
// admitted before the hash runs, counted after, so guesses through any door
// (login, password change, account deletion) share MaxAttempts. It returns
// the user as the decision left it and whether its hash has old parameters,
// or domain.ErrWrongPassword, domain.ErrAccountLocked. ctx bounds the wait for admission; dctx, detached
// from the caller, the check and the decision, so a client that hangs up
// cannot leave its guess uncounted.
func (s *Service) checkAccountPassword(ctx, dctx context.Context, id, password, door string) (*domain.User, bool, error) {
	// A hash that changed while it was being checked is checked again: it
	// may be a new password (the guess then fails and counts) or only the
	// same password rehashed with new parameters (it then passes).
	for try := 1; ; try++ {
		u, stale, changed, err := s.checkPasswordOnce(ctx, dctx, id, password, door)
		if !changed || try == 3 {
			if changed {
				err = domain.ErrWrongPassword
			}
			return u, stale, err
		}
	}
}

func (s *Service) checkPasswordOnce(ctx, dctx context.Context, id, password, door string) (u *domain.User, stale, changed bool, err error) {
	hash, err := s.admitLoginAttempt(ctx, id)
	if err != nil {
		return nil, false, false, err
	}
	ok, stale, err := s.hasher.Verify(dctx, password, hash)
	if err != nil {
		// Not the user's fault: release the slot without counting it.
		if rerr := s.users.UpdateUser(dctx, id, func(cur *domain.User) error {
			cur.AbandonLoginAttempt()
			return nil
		}); rerr != nil {
			s.log.WarnContext(ctx, "login slot not released", "user_id", id, "error", rerr)
		}
		return nil, false, false, err
	}
	var lockedNow bool
	err = s.users.UpdateUser(dctx, id, func(cur *domain.User) error {
		lockedNow, changed, u = false, false, cur
		if cur.PasswordHash() != hash {
			// The hash changed while it was being checked: this attempt
			// neither counts nor passes; the caller checks again.
			changed = true
			cur.AbandonLoginAttempt()
			return nil
		}
		lockedNow = cur.EndLoginAttempt(s.clock.Now(), ok, s.cfg.Lockout)
		switch {
		case !ok:
			cur.Record(s.event(ctx, domain.EventLoginFailed, "", cur.ID(), "wrong password ("+door+")"))
		case door == "login" && cur.CheckCanLogin() == nil:
			cur.Record(s.event(ctx, domain.EventLoginSucceeded, cur.ID(), cur.ID(), ""))
		}
		if lockedNow {
			cur.Queue(lockedMessage(cur))
			cur.Record(s.event(ctx, domain.EventAccountLocked, "", cur.ID(), "too many failed password checks"))
		}
		return nil
	})
	if err != nil {
		return nil, false, false, err
	}
	if lockedNow {
		s.wake()
	}
	switch {
	case changed:
		return nil, false, true, nil
	case !ok:
		return nil, false, false, domain.ErrWrongPassword
	case u.IsLocked():
		return nil, false, false, domain.ErrAccountLocked
	}
	return u, stale, false, nil
}

// admitLoginAttempt reserves a password check on the account, waiting while
// every slot is held by attempts in flight, and returns the hash to check.
func (s *Service) admitLoginAttempt(ctx context.Context, id string) (string, error) {
	wait := 2 * time.Millisecond
	for {
		var hash string
		var admitErr error
		var lockedNow bool
		// A refusal is saved too: admission may have counted expired
		// attempts as failures, locked or unlocked the account.
		err := s.users.UpdateUser(ctx, id, func(u *domain.User) error {
			hash = u.PasswordHash()
			wasLocked := u.IsLocked()
			admitErr = u.BeginLoginAttempt(s.clock.Now(), s.cfg.Lockout)
			if lockedNow = !wasLocked && u.IsLocked(); lockedNow {
				u.Queue(lockedMessage(u))
				u.Record(s.event(ctx, domain.EventAccountLocked, "", u.ID(), "failed logins counted after their lease"))
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if lockedNow {
			s.wake()
		}
		if !errors.Is(admitErr, domain.ErrLoginBusy) {
			return hash, admitErr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("waiting for a login slot: %w: %w", domain.ErrUnavailable, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// lockedMessage tells the owner their account locked.
func lockedMessage(u *domain.User) domain.Message {
	return domain.Message{Kind: domain.MessageLocked, To: u.Email(), Name: u.DisplayName()}
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

// rehash upgrades a hash made with old parameters; a failure only means the
// upgrade waits for the next login.
func (s *Service) rehash(ctx context.Context, id, password, oldHash string) {
	newHash, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.users.UpdateUser(ctx, id, func(u *domain.User) error {
			u.UpgradePasswordHash(oldHash, newHash)
			return nil
		})
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash upgrade failed", "user_id", id, "error", err)
	}
}
