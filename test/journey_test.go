package e2e_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// databases are the stores the journeys run on.
var databases = []struct {
	name string
	url  func(tb testing.TB) string
}{
	{"sqlite", func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "usersvc.db") }},
	{"postgres", sqlstoretest.NewPostgresURL},
}

// TestJourneySurvivesRestart registers, restarts the service, verifies by
// the link from the log, logs in with a stock OAuth2 client and lists users
// as the bootstrap admin, once per database.
func TestJourneySurvivesRestart(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := ctxT(t)
			dir := t.TempDir()
			env := baseEnv(t, db.url(t))
			svc := startService(t, dir, env)
			c := newClient(svc.URL)

			u, err := c.register(ctx, "Ada@Example.com", "correct horse battery")
			mustOK(t, err)
			if u.Role != "ANONYMOUS" || u.EmailVerified || u.Email != "ada@example.com" {
				t.Fatalf("registered user = %+v, want ANONYMOUS, unverified, normalised email", u)
			}
			link := svc.verificationLink(t, "ada@example.com")
			if strings.Contains(svc.logs.String(), "correct horse battery") {
				t.Fatal("the password reached the log")
			}

			svc.stop()
			svc = startService(t, dir, env)
			c = newClient(svc.URL)

			var apiErr *apiError
			if err := c.login(ctx, "ada@example.com", "correct horse battery"); err == nil {
				t.Fatal("login before verification succeeded")
			} else if errors.As(err, &apiErr) {
				t.Fatalf("unexpected error type %v", err)
			}
			status, err := c.get(ctx, link)
			mustOK(t, err)
			if status != http.StatusOK {
				t.Fatalf("following the verification link: %d, want 200", status)
			}
			if status, _ := c.get(ctx, link); status != http.StatusBadRequest {
				t.Fatalf("following the link twice: %d, want 400", status)
			}

			mustOK(t, c.login(ctx, "ada@example.com", "correct horse battery"))
			me, err := c.me(ctx)
			mustOK(t, err)
			if me.Role != "AUTHENTICATED" || !me.EmailVerified || me.ID != u.ID {
				t.Fatalf("me = %+v, want the verified AUTHENTICATED user %s", me, u.ID)
			}
			if _, err := c.listUsers(ctx, 0, 10); !isStatus(err, http.StatusForbidden) {
				t.Fatalf("AUTHENTICATED listing users: %v, want 403", err)
			}

			admin := newClient(svc.URL)
			mustOK(t, admin.login(ctx, "admin@example.com", "admin-password-for-e2e"))
			page, err := admin.listUsers(ctx, 0, 10)
			mustOK(t, err)
			if page.Total != 2 || len(page.Items) != 2 {
				t.Fatalf("users page = %+v, want the admin and ada", page)
			}
			up, err := admin.upgrade(ctx, u.ID)
			mustOK(t, err)
			if !up.IsProfessional {
				t.Fatalf("upgrade: %+v", up)
			}
		})
	}
}

func isStatus(err error, status int) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == status
}

// TestDefaultsNeedNothing starts the binary with no configuration at all,
// as `make run` does: SQLite and a development key appear under ./data.
func TestDefaultsNeedNothing(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HTTP_ADDR": baseEnv(t, "")["HTTP_ADDR"]}
	svc := startService(t, dir, env)
	c := newClient(svc.URL)
	_, err := c.register(ctxT(t), "grace@example.com", "a long enough passphrase")
	mustOK(t, err)
	svc.stop()
	for _, f := range []string{"data/usersvc.db", "data/jwt-dev.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The key is an Ed25519 signing key (a JWK Set) for its owner only.
	before, _ := os.ReadFile(filepath.Join(dir, "data/jwt-dev.key"))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(before, &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["crv"] != "Ed25519" || set.Keys[0]["d"] == nil {
		t.Errorf("data/jwt-dev.key is not one private Ed25519 JWK: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, "data/jwt-dev.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("data/jwt-dev.key: %v, %v; want mode 0600", info, err)
	}
	// The key is kept: a restart reuses it.
	svc = startService(t, dir, env)
	svc.stop()
	after, _ := os.ReadFile(filepath.Join(dir, "data/jwt-dev.key"))
	if string(before) != string(after) {
		t.Error("the development key changed across a restart")
	}
}

// TestBadStartupGivesOneClearLine: a malformed or unreachable database,
// or an unsafe production configuration, exits non-zero with one line and
// no stack trace.
func TestBadStartupGivesOneClearLine(t *testing.T) {
	cases := map[string]map[string]string{
		"malformed database url":    {"DATABASE_URL": "mysql://nope"},
		"unreachable postgres":      {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"},
		"production without secret": {"APP_ENV": "production", "PUBLIC_BASE_URL": "https://users.example.com"},
		"short jwt secret":          {"JWT_SECRET": "short"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(binary, "serve")
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HTTP_ADDR=127.0.0.1:0"}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("exit: %v, want a non-zero exit\n%s", err, out)
			}
			text := strings.TrimSpace(string(out))
			errLines := 0
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "usersvc: ") {
					errLines++
				}
			}
			if errLines != 1 || strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") {
				t.Fatalf("output is not one clear error line:\n%s", text)
			}
		})
	}
}
