package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunServesAndShutsDown boots the whole program in-process, as main
// does, and stops it by cancelling its context (SIGTERM in production):
// the program harness fails the test unless run returns nil in time.
func TestRunServesAndShutsDown(t *testing.T) {
	s := startServer(t, map[string]string{
		"DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"ADMIN_EMAIL":     "root@example.com",
		"ADMIN_PASSWORD":  "a long admin passphrase",
	})
	s.stop()
	if !strings.Contains(s.stderr.String(), "created the bootstrap admin") {
		t.Errorf("no bootstrap admin in the log:\n%s", s.stderr)
	}
}

func TestRunCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "db.sqlite"), "HASH_MEMORY_KIB": "8192",
		"JWT_SECRET": strings.Repeat("k", 32)}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate", "up"}, getenv, &out, &out); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"migrate", "status"}, getenv, &out, &out); err != nil || out.Len() == 0 {
		t.Fatalf("migrate status: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "create", "--email", "a@example.com", "--password", "a long admin passphrase"}, getenv, &out, &out); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"admin", "create", "--email", "a@example.com", "--password", "a long admin passphrase"}, getenv, &out, &out); err == nil {
		t.Error("creating the same admin twice succeeded")
	}
	if err := run(ctx, []string{"admin", "create", "--email", "b@example.com", "--password", "password"}, getenv, &out, &out); err == nil {
		t.Error("an admin with a common password was created")
	}
	if err := run(ctx, []string{"nonsense"}, getenv, &out, &out); err == nil {
		t.Error("an unknown command succeeded")
	}
}

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"production needs a secret", map[string]string{"APP_ENV": "production", "PUBLIC_BASE_URL": "https://x.io"}, "JWT_SECRET"},
		{"production needs signing keys or a secret", map[string]string{"APP_ENV": "production", "PUBLIC_BASE_URL": "https://x.io"}, "JWT_SIGNING_KEYS"},
		{"production with signing keys", map[string]string{"APP_ENV": "production", "JWT_SIGNING_KEYS": "/etc/usersvc/keys.json", "PUBLIC_BASE_URL": "https://x.io",
			"SECRETS_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))}, ""},
		{"production needs a base url", map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32)}, "PUBLIC_BASE_URL"},
		{"production needs a secrets key", map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32), "PUBLIC_BASE_URL": "https://x.io"}, "SECRETS_KEY"},
		{"production ok", map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32), "PUBLIC_BASE_URL": "https://x.io",
			"SECRETS_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))}, ""},
		{"a secrets key that is not 32 bytes", map[string]string{"SECRETS_KEY": "c2hvcnQ="}, "SECRETS_KEY"},
		{"a secrets key that is not base64", map[string]string{"SECRETS_KEY": "not base64!"}, "SECRETS_KEY"},
		{"short secret", map[string]string{"JWT_SECRET": "short"}, "at least 32 bytes"},
		{"bad duration", map[string]string{"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL"},
		{"zero lockout is manual unlock", map[string]string{"LOCKOUT_DURATION": "0"}, ""},
		{"bad attempts", map[string]string{"MAX_LOGIN_ATTEMPTS": "0"}, "MAX_LOGIN_ATTEMPTS"},
		{"admin email alone", map[string]string{"ADMIN_EMAIL": "a@b.co"}, "together"},
		{"bad rate limits", map[string]string{"RATE_LIMITS": "maybe"}, "RATE_LIMITS"},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tc.env[k] })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("loadConfig: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("loadConfig error %v, want one mentioning %q", err, tc.wantErr)
			case tc.wantErr != "" && strings.Contains(err.Error(), "\n"):
				t.Fatalf("the error spans lines: %q", err)
			}
			if tc.name == "defaults" {
				want := fmt.Sprint(":8000", defaultDatabaseURL, 3, 15*time.Minute, true)
				got := fmt.Sprint(c.HTTPAddr, c.DatabaseURL, c.MaxLoginAttempts, c.LockoutDuration, c.RateLimits)
				if got != want {
					t.Errorf("defaults %s, want %s", got, want)
				}
			}
		})
	}
}
