package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/usersvc/usersvc/adapters/secretbox"
)

// config is every setting of section 2 of PRODUCT.md, read from the environment.
type config struct {
	HTTPAddr         string
	DatabaseURL      string
	SMTPURL          string
	MailFrom         string
	PublicBaseURL    string
	JWTSecret        string
	SecretsKey       string // base64 of 32 bytes; empty: development generates one
	JWTSigningKeys   string // the path of a JWK Set file
	AccessTokenTTL   time.Duration
	MaxLoginAttempts int
	LockoutDuration  time.Duration
	AdminEmail       string
	AdminPassword    string
	Production       bool
	RefreshTokenTTL  time.Duration
	SessionMaxAge    time.Duration
	ShutdownTimeout  time.Duration
	VerificationTTL  time.Duration
	ResetTokenTTL    time.Duration
	InvitationTTL    time.Duration
	HashMemoryKiB    uint32
	HashIterations   uint32
	HashParallelism  uint8
	HashConcurrency  int
	HashNice         int // the niceness of the hash worker process; 0: hashes run in-process (HASH_PRIORITY)
	RateLimits       bool
	TrustedProxies   []string
	CORSOrigins      []string
	LogLevel         slog.Level
	LogFormat        string
	MailMaxAttempts  int
	MailRetryMin     time.Duration
	MailRetryMax     time.Duration
	MailSendTimeout  time.Duration
	// Webhooks (PRODUCT.md 8.6): attempts and backoff of each delivery, and
	// whether endpoints may be http URLs or reach non-public addresses
	// (the default outside production only).
	WebhookMaxAttempts  int
	WebhookRetryMin     time.Duration
	WebhookRetryMax     time.Duration
	WebhookAllowPrivate bool
	// MetricsToken, when set, is the bearer token /metrics wants in
	// production (where /metrics is 404 without it); development leaves
	// /metrics open.
	MetricsToken string
	// DataDir keeps development state (the generated signing key).
	DataDir string
}

// defaultDatabaseURL is the embedded store `make run` uses.
const defaultDatabaseURL = "sqlite:./data/usersvc.db"

// loadConfig reads and checks the configuration; every problem is reported.
func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name, def string, allowZero bool) time.Duration {
		d, err := time.ParseDuration(get(name, def))
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 15m, got %q", name, get(name, def)))
		}
		return d
	}
	integer := func(name string, def, minimum, maximum int) int {
		n, err := strconv.Atoi(get(name, strconv.Itoa(def)))
		if err != nil || n < minimum || n > maximum {
			errs = append(errs, fmt.Errorf("%s must be an integer from %d to %d, got %q", name, minimum, maximum, get(name, "")))
		}
		return n
	}
	list := func(name string) []string {
		var out []string
		for _, p := range strings.Split(get(name, ""), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}

	c := config{
		HTTPAddr:         get("HTTP_ADDR", ":8000"),
		DatabaseURL:      get("DATABASE_URL", defaultDatabaseURL),
		SMTPURL:          get("SMTP_URL", ""),
		MailFrom:         get("MAIL_FROM", "usersvc <no-reply@localhost>"),
		PublicBaseURL:    strings.TrimRight(get("PUBLIC_BASE_URL", listenURL(get("HTTP_ADDR", ":8000"))), "/"),
		JWTSecret:        getenv("JWT_SECRET"),
		SecretsKey:       strings.TrimSpace(getenv("SECRETS_KEY")),
		JWTSigningKeys:   get("JWT_SIGNING_KEYS", ""),
		AccessTokenTTL:   dur("ACCESS_TOKEN_TTL", "15m", false),
		MaxLoginAttempts: integer("MAX_LOGIN_ATTEMPTS", 3, 1, 1000),
		LockoutDuration:  dur("LOCKOUT_DURATION", "15m", true),
		AdminEmail:       get("ADMIN_EMAIL", ""),
		AdminPassword:    getenv("ADMIN_PASSWORD"),
		RefreshTokenTTL:  dur("REFRESH_TOKEN_TTL", "720h", false),
		SessionMaxAge:    dur("SESSION_MAX_AGE", "2160h", false),
		ShutdownTimeout:  dur("SHUTDOWN_TIMEOUT", "20s", false),
		VerificationTTL:  dur("VERIFICATION_TOKEN_TTL", "24h", false),
		ResetTokenTTL:    dur("RESET_TOKEN_TTL", "1h", false),
		InvitationTTL:    dur("INVITATION_TOKEN_TTL", "72h", false),
		// The conversions are safe: integer() bounds each value to its type.
		HashMemoryKiB:   uint32(integer("HASH_MEMORY_KIB", 19456, 1024, 4<<20)), //nolint:gosec
		HashIterations:  uint32(integer("HASH_ITERATIONS", 2, 1, 100)),          //nolint:gosec
		HashParallelism: uint8(integer("HASH_PARALLELISM", 1, 1, 255)),          //nolint:gosec
		HashConcurrency: integer("HASH_CONCURRENCY", runtime.GOMAXPROCS(0), 1, 1024),
		TrustedProxies:  list("TRUSTED_PROXIES"),
		CORSOrigins:     list("CORS_ORIGINS"),
		LogFormat:       strings.ToLower(get("LOG_FORMAT", "")),
		MailMaxAttempts: integer("MAIL_MAX_ATTEMPTS", 10, 1, 1000),
		MailRetryMin:    dur("MAIL_RETRY_MIN", "1s", false),
		MailRetryMax:    dur("MAIL_RETRY_MAX", "10m", false),
		MailSendTimeout: dur("MAIL_SEND_TIMEOUT", "30s", false),
		MetricsToken:    getenv("METRICS_TOKEN"),
		DataDir:         "./data",
	}
	switch env := strings.ToLower(get("APP_ENV", "development")); env {
	case "production", "prod":
		c.Production = true
	case "development", "dev", "test":
	default:
		errs = append(errs, fmt.Errorf("APP_ENV must be development or production, got %q", env))
	}
	// Webhooks; private addresses are allowed by default outside production.
	c.WebhookMaxAttempts = integer("WEBHOOK_MAX_ATTEMPTS", 8, 1, 100)
	c.WebhookRetryMin = dur("WEBHOOK_RETRY_MIN", "5s", false)
	c.WebhookRetryMax = dur("WEBHOOK_RETRY_MAX", "1h", false)
	c.WebhookAllowPrivate = !c.Production
	switch v := strings.ToLower(get("WEBHOOK_ALLOW_PRIVATE", "")); v {
	case "":
	case "true", "1", "yes", "on":
		c.WebhookAllowPrivate = true
	case "false", "0", "no", "off":
		c.WebhookAllowPrivate = false
	default:
		errs = append(errs, fmt.Errorf("WEBHOOK_ALLOW_PRIVATE must be true or false, got %q", v))
	}
	if c.WebhookRetryMin > 0 && c.WebhookRetryMax > 0 && c.WebhookRetryMax < c.WebhookRetryMin {
		errs = append(errs, fmt.Errorf("WEBHOOK_RETRY_MAX (%s) must not be less than WEBHOOK_RETRY_MIN (%s)", c.WebhookRetryMax, c.WebhookRetryMin))
	}
	if c.LogFormat == "" { // text for a person at a terminal, JSON for a log pipeline
		c.LogFormat = "text"
		if c.Production {
			c.LogFormat = "json"
		}
	}
	switch v := strings.ToLower(get("HASH_PRIORITY", "low")); v {
	case "low":
		c.HashNice = 19
	case "normal":
	default:
		errs = append(errs, fmt.Errorf("HASH_PRIORITY must be low or normal, got %q", v))
	}
	switch v := strings.ToLower(get("RATE_LIMITS", "on")); v {
	case "on", "true", "1", "yes":
		c.RateLimits = true
	case "off", "false", "0", "no":
	default:
		errs = append(errs, fmt.Errorf("RATE_LIMITS must be on or off, got %q", v))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", get("LOG_LEVEL", "")))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be json or text, got %q", c.LogFormat))
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL must be an absolute http(s) URL, got %q", c.PublicBaseURL))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD must be set together"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, fmt.Errorf("JWT_SECRET must be at least 32 bytes, got %d", len(c.JWTSecret)))
	}
	if c.SecretsKey != "" {
		if _, err := secretbox.ParseKey(c.SecretsKey); err != nil {
			errs = append(errs, fmt.Errorf("SECRETS_KEY: %w (make one with: openssl rand -base64 32)", err))
		}
	}
	if c.Production {
		if c.SecretsKey == "" {
			errs = append(errs, errors.New("APP_ENV=production requires SECRETS_KEY (32 random bytes, base64: openssl rand -base64 32)"))
		}
		if c.JWTSecret == "" && c.JWTSigningKeys == "" {
			errs = append(errs, errors.New("APP_ENV=production requires JWT_SIGNING_KEYS (a JWK Set file: usersvc keys rotate --file F) or JWT_SECRET (32+ random bytes)"))
		}
		if strings.TrimSpace(getenv("PUBLIC_BASE_URL")) == "" {
			errs = append(errs, errors.New("APP_ENV=production requires PUBLIC_BASE_URL"))
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		// One line, so the operator sees every problem at once.
		return c, errors.New("configuration: " + strings.Join(msgs, "; "))
	}
	return c, nil
}

// listenURL is the URL a browser on this machine reaches the service at
// when it listens on addr: ":9000" and "0.0.0.0:9000" are
// http://localhost:9000, "127.0.0.1:9000" is http://127.0.0.1:9000. It is
// PUBLIC_BASE_URL's default, so links in emails work out of the box.
func listenURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "http://localhost:8000"
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
