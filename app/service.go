// Package app holds the use cases of usersvc. It depends on domain and on
// the interfaces in ports, never on an adapter.
package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Config holds the use cases' settings.
type Config struct {
	Lockout         domain.LockoutPolicy
	VerificationTTL time.Duration
	// PublicBaseURL is the base of links in emails, without a trailing slash.
	PublicBaseURL string
	// MessagesQueued, if set, is called after a change that queued email
	// commits, so the dispatcher sends it without waiting for its next poll.
	MessagesQueued func()
}

// Service runs the use cases.
type Service struct {
	users    ports.UserStore
	hasher   ports.PasswordHasher
	issuer   ports.TokenIssuer
	verifier ports.TokenVerifier
	clock    ports.Clock
	ids      ports.IDs
	secrets  ports.Secrets
	cfg      Config
	log      *slog.Logger
	// dummyHash is verified against for unknown emails, so that a login
	// costs the same whether or not the account exists.
	dummyHash string
}

// New builds the service. dummyHash is any hash made by hasher; it is used to
// spend the same time on unknown emails as on known ones.
func New(users ports.UserStore, hasher ports.PasswordHasher, issuer ports.TokenIssuer,
	verifier ports.TokenVerifier, clock ports.Clock, ids ports.IDs,
	secrets ports.Secrets, cfg Config, dummyHash string, log *slog.Logger,
) (*Service, error) {
	switch {
	case users == nil || hasher == nil || issuer == nil || verifier == nil ||
		clock == nil || ids == nil || secrets == nil || log == nil:
		return nil, errors.New("app.New: every dependency is required")
	case cfg.Lockout.MaxAttempts < 1:
		return nil, errors.New("app.New: Lockout.MaxAttempts must be at least 1")
	case cfg.VerificationTTL <= 0:
		return nil, errors.New("app.New: VerificationTTL must be positive")
	case dummyHash == "":
		return nil, errors.New("app.New: dummyHash is required")
	}
	if cfg.Lockout.AttemptLease <= 0 {
		cfg.Lockout.AttemptLease = time.Minute
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	return &Service{
		users: users, hasher: hasher, issuer: issuer, verifier: verifier,
		clock: clock, ids: ids, secrets: secrets, cfg: cfg, log: log, dummyHash: dummyHash,
	}, nil
}

// hashSecret is how email-link secrets are stored: they are long and random,
// so a fast hash is enough to make a database leak useless.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wake nudges the dispatcher after a change that queued email committed.
func (s *Service) wake() {
	if s.cfg.MessagesQueued != nil {
		s.cfg.MessagesQueued()
	}
}

func randomNickname() string { return domain.GenerateNickname(rand.IntN) }
