package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/argon2hash"
	"github.com/usersvc/usersvc/adapters/authcache"
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
func newHasher(c config, opts ...argon2hash.Option) (*argon2hash.Hasher, error) {
	return argon2hash.New(argon2hash.Params{
		MemoryKiB: c.HashMemoryKiB, Iterations: c.HashIterations, Parallelism: c.HashParallelism,
	}, c.HashConcurrency, opts...)
}

// How long the authentication cache trusts an entry: with PostgreSQL's
// change feed, a safety net; without one (SQLite, where another process,
// the command line, may change the file), the longest a change made
// elsewhere goes unseen (PRODUCT.md 8.8: within one second).
const (
	authCacheTTLFeed   = 5 * time.Minute
	authCacheTTLNoFeed = time.Second
	authCacheEntries   = 100_000
)

// newAuthCache puts the authentication cache in front of store and keeps
// it told of changes made elsewhere until ctx ends; done is closed when the
// watcher has stopped.
func newAuthCache(ctx context.Context, store *sqlstore.Store, log *slog.Logger) (*authcache.Store, <-chan struct{}, error) {
	ttl := authCacheTTLFeed
	if !store.HasChangeFeed() {
		ttl = authCacheTTLNoFeed
	}
	cache, err := authcache.New(store, store, authcache.Options{TTL: ttl, MaxEntries: authCacheEntries})
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	if !store.HasChangeFeed() {
		cache.SetLive(true)
		close(done)
		return cache, done, nil
	}
	go func() {
		defer close(done)
		err := store.WatchUserChanges(ctx, cache.Invalidate, func(live bool) {
			cache.SetLive(live)
			if live {
				log.Info("authentication cache: listening for changes")
			} else {
				log.Warn("authentication cache: not listening for changes; every request reads the database")
			}
		})
		if err != nil {
			cache.SetLive(false)
			log.Error("authentication cache: stopped listening for changes; every request reads the database", "error", err)
		}
	}()
	return cache, done, nil
}

// newServingHasher is the hasher of a serving process. With HASH_PRIORITY
// low (the default) hashes run in a worker process, this binary again, at
// the lowest priority: the operating system gives the CPU to requests
// first and to hashes whatever is left, all of it when nothing else runs.
// Within one Go process that cannot be had: its goroutines share the Ps
// without priorities, and a running hash holds one for a scheduling slice.
func newServingHasher(c config) (*argon2hash.Hasher, error) {
	if c.HashNice == 0 {
		return newHasher(c)
	}
	self, err := executable()
	if err != nil {
		return nil, fmt.Errorf("HASH_PRIORITY=low runs hashes in a copy of this program: %w", err)
	}
	return newHasher(c, argon2hash.WithProcess(self, c.HashNice))
}

// executable is this program's file: on Linux the one running even if it
// has been replaced or removed on disk since (an upgrade in place), so a
// worker started later speaks its protocol.
func executable() (string, error) {
	const self = "/proc/self/exe"
	if _, err := os.Stat(self); err == nil {
		return self, nil
	}
	return os.Executable()
}

// newService wires the use cases on store; wake is called when email is queued.
func newService(ctx context.Context, c config, store *sqlstore.Store, wake func(), log *slog.Logger) (*app.Service, error) {
	hasher, err := newHasher(c)
	if err != nil {
		return nil, err
	}
	tokens, err := newTokens(c, log)
	if err != nil {
		return nil, err
	}
	return newServiceWith(ctx, c, store, store, hasher, tokens, wake, log)
}

// accountStore is what the use cases read and change accounts through: the
// store itself, or the authentication cache in front of it.
type accountStore interface {
	ports.UserStore
	ports.SessionStore
}

// newServiceWith is newService on hasher and tokens, which serve also
// reads for metrics and publishes.
func newServiceWith(ctx context.Context, c config, store *sqlstore.Store, accounts accountStore, hasher *argon2hash.Hasher,
	tokens *jwttoken.Tokens, wake func(), log *slog.Logger) (*app.Service, error) {
	dummy, err := hasher.Hash(ctx, rand.Text())
	if err != nil {
		return nil, err
	}
	box, err := newSecretBox(c, log)
	if err != nil {
		return nil, err
	}
	return app.New(app.Deps{
		Users: accounts, Sessions: accounts, Audit: store, Stats: store, Hasher: hasher, Issuer: tokens, Verifier: tokens,
		Clock: system.Clock{}, IDs: system.IDs{}, Secrets: system.Secrets{}, SecretBox: box, Log: log, DummyHash: dummy,
	}, app.Config{
		Lockout: domain.LockoutPolicy{
			MaxAttempts: c.MaxLoginAttempts, Duration: c.LockoutDuration,
		},
		VerificationTTL: c.VerificationTTL,
		ResetTTL:        c.ResetTokenTTL,
		InvitationTTL:   c.InvitationTTL,
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
func newMetrics(store *sqlstore.Store, hasher *argon2hash.Hasher, cache *authcache.Store, log *slog.Logger) (*prometheus.Registry, error) {
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
	if err := metrics.RegisterAuthCache(reg, cache.Stats); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, nil
}

// devSecretsKeyFile holds the development SECRETS_KEY, generated on first start.
const devSecretsKeyFile = "secrets-dev.key" //nolint:gosec // a file name, not a credential

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

// consoleKey keys the console's CSRF tokens: derived from SECRETS_KEY (or
// the development key newSecretBox made), so every instance that shares
// the secrets key accepts the forms of the others.
func consoleKey(c config) ([]byte, error) {
	encoded := c.SecretsKey
	if encoded == "" {
		b, err := os.ReadFile(filepath.Join(c.DataDir, devSecretsKeyFile)) //nolint:gosec // the operator's own data directory
		if err != nil {
			return nil, fmt.Errorf("read secrets key: %w", err)
		}
		encoded = string(b)
	}
	key, err := secretbox.ParseKey(encoded)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("usersvc console CSRF key v1"))
	return m.Sum(nil), nil
}

// issuer is the iss claim: the service's public URL.
func issuer(c config) string { return c.PublicBaseURL }

// devKeyFile holds the development signing key (a JWK Set), generated on
// first start.
const devKeyFile = "jwt-dev.key"

// newTokens are the access tokens of the configuration: signed with the
// last key of JWT_SIGNING_KEYS (and, while JWT_SECRET is set too, HS256
// tokens issued before still accepted), HS256 with JWT_SECRET alone, or in
// development with an Ed25519 key generated once under the data directory,
// so that tokens survive a restart. Production never gets that key.
func newTokens(c config, log *slog.Logger) (*jwttoken.Tokens, error) {
	var secret []byte
	if c.JWTSecret != "" {
		secret = []byte(c.JWTSecret)
	}
	switch {
	case c.JWTSigningKeys != "":
		set, err := jwttoken.ReadKeySetFile(c.JWTSigningKeys)
		if err != nil {
			return nil, fmt.Errorf("JWT_SIGNING_KEYS: %w", err)
		}
		if secret != nil {
			log.Info("JWT_SIGNING_KEYS signs; HS256 tokens of JWT_SECRET are still accepted: unset JWT_SECRET once ACCESS_TOKEN_TTL has passed",
				"access_token_ttl", c.AccessTokenTTL.String())
		}
		return jwttoken.NewWithKeys(set, secret, issuer(c), c.AccessTokenTTL)
	case secret != nil:
		return jwttoken.New(secret, issuer(c), c.AccessTokenTTL)
	case c.Production:
		return nil, errors.New("APP_ENV=production requires JWT_SIGNING_KEYS or JWT_SECRET")
	}
	set, err := devKeySet(c, log)
	if err != nil {
		return nil, err
	}
	return jwttoken.NewWithKeys(set, nil, issuer(c), c.AccessTokenTTL)
}

// devKeySet is the development key set under the data directory, made on
// first use. A file of an older version, which held a hex HS256 key, is
// replaced: its tokens stop working, which development can afford.
func devKeySet(c config, log *slog.Logger) (*jwttoken.KeySet, error) {
	path := filepath.Join(c.DataDir, devKeyFile)
	set, err := jwttoken.ReadKeySetFile(path)
	if err == nil {
		log.Warn("using the development signing key; set JWT_SIGNING_KEYS in production", "path", path)
		return set, nil
	}
	legacy := false
	if !errors.Is(err, fs.ErrNotExist) {
		b, rerr := os.ReadFile(path) //nolint:gosec // the operator's own data directory
		if _, herr := hex.DecodeString(strings.TrimSpace(string(b))); rerr != nil || herr != nil {
			return nil, fmt.Errorf("%w: delete it to make a new one", err)
		}
		legacy = true
	}
	key, err := jwttoken.GenerateKey(jwttoken.EdDSA, time.Now())
	if err != nil {
		return nil, err
	}
	set, err = jwttoken.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if legacy {
		if err := jwttoken.WriteKeySetFile(path, set); err != nil {
			return nil, err
		}
		log.Warn("replaced the HS256 development key of an older version with an Ed25519 signing key: log in again; set JWT_SIGNING_KEYS in production", "path", path)
		return set, nil
	}
	set, created, err := jwttoken.CreateKeySetFile(path, set)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a development signing key (Ed25519); set JWT_SIGNING_KEYS in production", "path", path)
	} else {
		log.Warn("using the development signing key; set JWT_SIGNING_KEYS in production", "path", path)
	}
	return set, nil
}
