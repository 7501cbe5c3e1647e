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
	ResetTTL        time.Duration // password-reset links
	InvitationTTL   time.Duration // invitation links; 0: 72 hours
	RefreshTTL      time.Duration // a session lives this long after its last refresh
	SessionMaxAge   time.Duration // and never longer than this after its login; 0: no limit
	// PublicBaseURL is the base of links in emails, without a trailing slash.
	PublicBaseURL string
	// MessagesQueued, if set, is called after a change that queued email
	// commits, so the dispatcher sends it without waiting for its next poll.
	MessagesQueued func()
}

// Deps are the ports the use cases run on; every one is required.
type Deps struct {
	Users    ports.UserStore
	Sessions ports.SessionStore
	Audit    ports.AuditLog
	Stats    ports.UserStats // the dashboard's counts
	Hasher   ports.PasswordHasher
	Issuer   ports.TokenIssuer
	Verifier ports.TokenVerifier
	Clock    ports.Clock
	IDs      ports.IDs
	Secrets  ports.Secrets
	// SecretBox seals secrets kept at rest (second-factor secrets).
	SecretBox ports.SecretBox
	Log       *slog.Logger
	// DummyHash is any hash made by Hasher. Logins for unknown emails are
	// checked against it, so they cost what a real check costs.
	DummyHash string
}

// Service runs the use cases.
type Service struct {
	users     ports.UserStore
	sessions  ports.SessionStore
	audit     ports.AuditLog
	stats     ports.UserStats
	hasher    ports.PasswordHasher
	issuer    ports.TokenIssuer
	verifier  ports.TokenVerifier
	clock     ports.Clock
	ids       ports.IDs
	secrets   ports.Secrets
	box       ports.SecretBox
	cfg       Config
	log       *slog.Logger
	dummyHash string
}

// New builds the service; a missing dependency is an error here rather
// than a nil pointer at request time.
func New(d Deps, cfg Config) (*Service, error) {
	switch {
	case d.Users == nil || d.Sessions == nil || d.Audit == nil || d.Stats == nil || d.Hasher == nil || d.Issuer == nil ||
		d.Verifier == nil || d.Clock == nil || d.IDs == nil || d.Secrets == nil || d.SecretBox == nil || d.Log == nil:
		return nil, errors.New("app.New: every dependency is required")
	case d.DummyHash == "":
		return nil, errors.New("app.New: DummyHash is required")
	case cfg.Lockout.MaxAttempts < 1:
		return nil, errors.New("app.New: Lockout.MaxAttempts must be at least 1")
	case cfg.VerificationTTL <= 0:
		return nil, errors.New("app.New: VerificationTTL must be positive")
	}
	if cfg.Lockout.AttemptLease <= 0 {
		cfg.Lockout.AttemptLease = time.Minute
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = time.Hour
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = 72 * time.Hour
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	return &Service{
		users: d.Users, sessions: d.Sessions, audit: d.Audit, stats: d.Stats, hasher: d.Hasher, issuer: d.Issuer,
		verifier: d.Verifier, clock: d.Clock, ids: d.IDs, secrets: d.Secrets, box: d.SecretBox, cfg: cfg, log: d.Log,
		dummyHash: d.DummyHash,
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
