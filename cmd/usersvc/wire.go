package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/argon2hash"
	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/adapters/logmail"
	"github.com/usersvc/usersvc/adapters/metrics"
	"github.com/usersvc/usersvc/adapters/secretbox"
	"github.com/usersvc/usersvc/adapters/smtpmail"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openStore opens and migrates the database DATABASE_URL names.
func openStore(ctx context.Context, c config) (*sqlstore.Store, error) {
	store, err := sqlstore.Open(ctx, c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return store, nil
}

// newMailer is SMTP when SMTP_URL is set, else the log.
func newMailer(c config, log *slog.Logger) (ports.Mailer, error) {
	if c.SMTPURL == "" {
		return logmail.New(log, !c.Production), nil
	}
	return smtpmail.New(c.SMTPURL, c.MailFrom, c.PublicBaseURL)
}

// newDispatcher delivers the outbox of store.
func newDispatcher(c config, store *sqlstore.Store, log *slog.Logger) (*app.Dispatcher, error) {
	mailer, err := newMailer(c, log)
	if err != nil {
		return nil, err
	}
	return app.NewDispatcher(store, mailer, system.Clock{}, app.DispatcherConfig{
		MaxAttempts: c.MailMaxAttempts, RetryMin: c.MailRetryMin, RetryMax: c.MailRetryMax,
		SendTimeout: c.MailSendTimeout,
	}, log)
}

// newHasher is the argon2id hasher of the HASH_* settings.
func newHasher(c config) (*argon2hash.Hasher, error) {
	return argon2hash.New(argon2hash.Params{
		MemoryKiB: c.HashMemoryKiB, Iterations: c.HashIterations, Parallelism: c.HashParallelism,
	}, c.HashConcurrency)
}

// newService wires the use cases on store; wake is called when email is queued.
func newService(ctx context.Context, c config, store *sqlstore.Store, wake func(), log *slog.Logger) (*app.Service, error) {
	hasher, err := newHasher(c)
	if err != nil {
		return nil, err
	}
	return newServiceWith(ctx, c, store, hasher, wake, log)
}

// newServiceWith is newService on hasher, which serve also reads for metrics.
func newServiceWith(ctx context.Context, c config, store *sqlstore.Store, hasher *argon2hash.Hasher,
	wake func(), log *slog.Logger) (*app.Service, error) {
	key, err := jwtKey(c, log)
	if err != nil {
		return nil, err
	}
	tokens, err := jwttoken.New(key, issuer(c), c.AccessTokenTTL)
	if err != nil {
		return nil, err
	}
	dummy, err := hasher.Hash(ctx, rand.Text())
	if err != nil {
		return nil, err
	}
	box, err := newSecretBox(c, log)
	if err != nil {
		return nil, err
	}
	return app.New(app.Deps{
		Users: store, Sessions: store, Audit: store, Hasher: hasher, Issuer: tokens, Verifier: tokens,
		Clock: system.Clock{}, IDs: system.IDs{}, Secrets: system.Secrets{}, SecretBox: box, Log: log, DummyHash: dummy,
	}, app.Config{
		Lockout: domain.LockoutPolicy{
			MaxAttempts: c.MaxLoginAttempts, Duration: c.LockoutDuration,
		},
		VerificationTTL: c.VerificationTTL,
		ResetTTL:        c.ResetTokenTTL,
		RefreshTTL:      c.RefreshTokenTTL,
		SessionMaxAge:   c.SessionMaxAge,
		PublicBaseURL:   c.PublicBaseURL,
		MessagesQueued:  wake,
	})
}

// newMetrics is the registry served at /metrics (unauthenticated: keep it
// off the public internet): the Go runtime and the process, the hasher's
// load and the outbox's backlog, read at each scrape. The HTTP edge adds
// its request metrics to it.
func newMetrics(store *sqlstore.Store, hasher *argon2hash.Hasher, log *slog.Logger) (*prometheus.Registry, error) {
	reg, err := metrics.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := metrics.RegisterHashLoad(reg, hasher.Load); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := metrics.RegisterOutbox(reg, store.OutboxCounts, metrics.DefaultOutboxTimeout, log); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, nil
}

// devSecretsKeyFile holds the development SECRETS_KEY, generated on first start.
const devSecretsKeyFile = "secrets-dev.key"

// newSecretBox is the box under SECRETS_KEY, or in development under a key
// generated once and kept under the data directory, so secrets sealed
// before a restart open after it. Production refuses to start without
// SECRETS_KEY (loadConfig).
func newSecretBox(c config, log *slog.Logger) (*secretbox.Box, error) {
	encoded := c.SecretsKey
	if encoded == "" {
		if c.Production {
			return nil, errors.New("SECRETS_KEY is required in production")
		}
		path := filepath.Join(c.DataDir, devSecretsKeyFile)
		b, err := os.ReadFile(path) //nolint:gosec // the operator's own data directory
		switch {
		case err == nil:
			encoded = string(b)
			log.Warn("using the development secrets key; set SECRETS_KEY in production", "path", path)
		case errors.Is(err, fs.ErrNotExist):
			encoded = secretbox.NewKey()
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				return nil, fmt.Errorf("create data directory: %w", err)
			}
			if err := os.WriteFile(path, []byte(encoded+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("write secrets key: %w", err)
			}
			log.Warn("generated a development secrets key; set SECRETS_KEY in production", "path", path)
		default:
			return nil, fmt.Errorf("read secrets key: %w", err)
		}
	}
	key, err := secretbox.ParseKey(encoded)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return secretbox.New(key)
}

// issuer is the iss claim: the service's public URL.
func issuer(c config) string { return c.PublicBaseURL }

// devKeyFile holds the development JWT key, generated on first start.
const devKeyFile = "jwt-dev.key"

// jwtKey is JWT_SECRET, or in development a key generated once and kept
// under the data directory, so tokens survive a restart.
func jwtKey(c config, log *slog.Logger) ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	if c.Production {
		return nil, errors.New("JWT_SECRET is required in production")
	}
	path := filepath.Join(c.DataDir, devKeyFile)
	b, err := os.ReadFile(path) //nolint:gosec // the operator's own data directory
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) < jwttoken.MinKeyLen {
			return nil, fmt.Errorf("%s is not a valid key: delete it to make a new one", path)
		}
		log.Warn("using the development JWT key; set JWT_SECRET in production", "path", path)
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read JWT key: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write JWT key: %w", err)
	}
	log.Warn("generated a development JWT key; set JWT_SECRET in production", "path", path)
	return key, nil
}
