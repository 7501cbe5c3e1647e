package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/app"
)

// benchService wires the real use cases (argon2id with the default OWASP
// parameters, SQLite) with one verified user, alice@example.com.
func benchService(b *testing.B) *app.Service {
	b.Helper()
	env := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(b.TempDir(), "bench.db"),
		"JWT_SECRET":   strings.Repeat("k", 32),
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	c.MaxLoginAttempts = 1 << 30 // measure password checks, not a locked account
	ctx := context.Background()
	store, err := openStore(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := newService(ctx, c, store, nil, log)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateAdmin(ctx, "alice@example.com", "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	return svc
}

// The three login benchmarks compare what an attacker can time: an unknown
// email must cost what a wrong password costs (one argon2id verification).
func BenchmarkLoginWrongPassword(b *testing.B) {
	svc := benchService(b)
	for b.Loop() {
		_, _ = svc.Login(context.Background(), "alice@example.com", "not the password")
	}
}

func BenchmarkLoginUnknownEmail(b *testing.B) {
	svc := benchService(b)
	for b.Loop() {
		_, _ = svc.Login(context.Background(), "nobody@example.com", "not the password")
	}
}

func BenchmarkLoginSuccess(b *testing.B) {
	svc := benchService(b)
	for b.Loop() {
		if _, err := svc.Login(context.Background(), "alice@example.com", "correct horse battery"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is the cost every authenticated request pays:
// verify the JWT, load the user and the session.
func BenchmarkAuthenticate(b *testing.B) {
	svc := benchService(b)
	res, err := svc.Login(context.Background(), "alice@example.com", "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Authenticate(context.Background(), res.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
