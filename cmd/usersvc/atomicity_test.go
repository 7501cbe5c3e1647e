package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
)

// A password change or reset and the end of the other sessions are one
// transaction (PRODUCT.md 8.8): a fault injected into any write of the
// change, the end of the sessions included, leaves the old password with
// every session; without the fault, the new password with only the
// caller's session (none after a reset). On the real stores, through the
// real wiring.
func TestPasswordChangesAreOneTransaction(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{
		"postgres": sqlstoretest.NewPostgresURL,
		"sqlite":   func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "db.sqlite") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Each write of the change, in turn, fails.
			for _, fault := range []string{"UPDATE users", "UPDATE sessions", "INSERT INTO audit_log"} {
				t.Run("change/"+fault, func(t *testing.T) { testChangeAtomic(t, dbURL(t), fault) })
			}
			for _, fault := range []string{"UPDATE users", "INSERT INTO audit_log"} {
				t.Run("reset/"+fault, func(t *testing.T) { testResetAtomic(t, dbURL(t), fault) })
			}
		})
	}
}

const (
	oldPassword = "the old passphrase"
	newPassword = "the new passphrase"
)

var errInjected = errors.New("injected fault")

// atomicEnv is the real use cases on a store whose statements can fail,
// with one verified user logged in three times.
type atomicEnv struct {
	svc      *app.Service
	store    *sqlstore.Store
	counter  *testsupport.QueryCounter
	sessions []app.LoginResult
}

func newAtomicEnv(t *testing.T, dbURL string) *atomicEnv {
	t.Helper()
	counter := &testsupport.QueryCounter{}
	env := map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": strings.Repeat("k", 32), "HASH_MEMORY_KIB": "8192"}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := sqlstore.OpenWith(ctx, c.DatabaseURL, sqlstore.Options{WrapConnector: counter.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := newService(ctx, c, store, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAdmin(ctx, "alice@example.com", oldPassword); err != nil {
		t.Fatal(err)
	}
	e := &atomicEnv{svc: svc, store: store, counter: counter}
	for range 3 {
		res, err := svc.Login(ctx, "alice@example.com", oldPassword)
		if err != nil {
			t.Fatal(err)
		}
		e.sessions = append(e.sessions, res)
	}
	return e
}

// failOn makes statements holding write fail, from the nth on (a
// password change's first UPDATE users is its admission; the second, the
// change itself). On PostgreSQL a write may be a part of a change's one
// statement (WITH … AS (UPDATE users …)).
func (e *atomicEnv) failOn(write string, nth int) {
	seen := 0
	e.counter.FailWhen(func(q string) error {
		if strings.Contains(q, write) {
			if seen++; seen >= nth {
				return errInjected
			}
		}
		return nil
	})
}

// alive reports which of the three sessions still authenticate and refresh.
func (e *atomicEnv) alive(t *testing.T) []bool {
	t.Helper()
	out := make([]bool, len(e.sessions))
	for i, s := range e.sessions {
		_, err := e.svc.Authenticate(context.Background(), s.AccessToken)
		out[i] = err == nil
		if err != nil && !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("Authenticate: %v", err)
		}
	}
	return out
}

// password reports which password logs in now.
func (e *atomicEnv) password(t *testing.T) string {
	t.Helper()
	for _, p := range []string{oldPassword, newPassword} {
		if _, err := e.svc.Login(context.Background(), "alice@example.com", p); err == nil {
			return p
		} else if !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("Login: %v", err)
		}
	}
	t.Fatal("neither password logs in")
	return ""
}

func testChangeAtomic(t *testing.T, dbURL, fault string) {
	e := newAtomicEnv(t, dbURL)
	ctx := context.Background()
	caller, err := e.svc.Authenticate(ctx, e.sessions[0].AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	nth := 1
	if fault == "UPDATE users" {
		nth = 2
	}
	e.failOn(fault, nth)
	err = e.svc.ChangePassword(ctx, caller, oldPassword, newPassword)
	e.counter.FailWhen(nil)
	if !errors.Is(err, errInjected) {
		t.Fatalf("ChangePassword with %q failing = %v, want the injected fault", fault, err)
	}
	if got := e.alive(t); got[0] != true || got[1] != true || got[2] != true {
		t.Errorf("after a failed change: sessions alive %v, want all", got)
	}
	if p := e.password(t); p != oldPassword {
		t.Errorf("after a failed change the password is %q, want the old one", p)
	}
	// The same change, without the fault: the new password, the caller's
	// session only.
	if err := e.svc.ChangePassword(ctx, caller, oldPassword, newPassword); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if got := e.alive(t); got[0] != true || got[1] != false || got[2] != false {
		t.Errorf("after the change: sessions alive %v, want the caller's only", got)
	}
	if p := e.password(t); p != newPassword {
		t.Errorf("after the change the password is %q, want the new one", p)
	}
}

func testResetAtomic(t *testing.T, dbURL, fault string) {
	e := newAtomicEnv(t, dbURL)
	ctx := context.Background()
	if err := e.svc.RequestPasswordReset(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t)
	e.failOn(fault, 1)
	err := e.svc.ConfirmPasswordReset(ctx, token, newPassword)
	e.counter.FailWhen(nil)
	if !errors.Is(err, errInjected) {
		t.Fatalf("ConfirmPasswordReset with %q failing = %v, want the injected fault", fault, err)
	}
	if got := e.alive(t); got[0] != true || got[1] != true || got[2] != true {
		t.Errorf("after a failed reset: sessions alive %v, want all", got)
	}
	if p := e.password(t); p != oldPassword {
		t.Errorf("after a failed reset the password is %q, want the old one", p)
	}
	if err := e.svc.ConfirmPasswordReset(ctx, token, newPassword); err != nil {
		t.Fatalf("ConfirmPasswordReset: %v", err)
	}
	if got := e.alive(t); got[0] || got[1] || got[2] {
		t.Errorf("after the reset: sessions alive %v, want none", got)
	}
	if p := e.password(t); p != newPassword {
		t.Errorf("after the reset the password is %q, want the new one", p)
	}
}

// resetToken is the token of the reset link in the outbox.
func (e *atomicEnv) resetToken(t *testing.T) string {
	t.Helper()
	msgs, err := e.store.ClaimMessages(context.Background(), time.Now().Add(time.Minute), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Message.Kind == domain.MessagePasswordReset {
			u, err := url.Parse(m.Message.Link)
			if err != nil {
				t.Fatal(err)
			}
			return u.Query().Get("token")
		}
	}
	t.Fatal("no reset link in the outbox")
	return ""
}
