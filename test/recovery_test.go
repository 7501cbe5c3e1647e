package e2e_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// Recovery tests: password reset by email, refresh-token reuse detection
// across a restart, and a database outage, against the real binary.

// TestPasswordResetByEmailEndToEnd: the owner of a locked account, whose
// old session may be in a thief's hands, recovers it by email: the link
// works once, unlocks the account and ends every earlier session.
func TestPasswordResetByEmailEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	const email, oldPassword, newPassword = "reset@example.com", "the old passphrase", "a brand new passphrase"

	c := newClient(svc.URL)
	_, err := c.register(ctx, email, oldPassword)
	mustOK(t, err)
	verify := m.waitFor(t, email, "Confirm your email", 15*time.Second)
	if status, err := c.get(ctx, mailLink.FindString(verify.Text)); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}
	// The session a thief may hold.
	stolen := c.mustLogin(t, ctx, email, oldPassword)

	for range 3 {
		if _, ans, err := newClient(svc.URL).passwordLogin(ctx, email, "a wrong passphrase"); err != nil || ans.Status != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %v %d %s, want 401", err, ans.Status, ans.Body)
		}
	}
	if _, ans, _ := newClient(svc.URL).passwordLogin(ctx, email, oldPassword); ans.Status != http.StatusBadRequest {
		t.Fatalf("the right password on a locked account: %d %s, want 400", ans.Status, ans.Body)
	}

	ans, err := newClient(svc.URL).requestReset(ctx, email)
	mustOK(t, err)
	if ans.Status != http.StatusAccepted {
		t.Fatalf("reset request: %d %s, want 202", ans.Status, ans.Body)
	}
	msg := m.waitFor(t, email, "Reset", 15*time.Second)
	link := resetLink.FindString(msg.Text)
	if !strings.HasPrefix(link, svc.URL+"/password-reset?token=") {
		t.Fatalf("reset link %q is not PUBLIC_BASE_URL/password-reset?token=…", link)
	}
	if !strings.Contains(msg.HTML, link) && !strings.Contains(msg.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Errorf("the HTML part lacks the reset link")
	}
	token := resetTokenFrom(t, msg.Text)

	browser := newClient(svc.URL)
	page := browser.mustRaw(t, ctx, http.MethodGet, link, nil, http.Header{"Accept": {"text/html"}})
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.Body, "<form") || !strings.Contains(page.Body, `name="new_password"`) {
		t.Fatalf("reset page: %d %s\n%s, want an HTML form", page.Status, page.Header.Get("Content-Type"), page.Body)
	}

	ans, err = newClient(svc.URL).confirmReset(ctx, token, newPassword)
	mustOK(t, err)
	if ans.Status != http.StatusOK {
		t.Fatalf("reset confirm: %d %s, want 200", ans.Status, ans.Body)
	}

	fresh := newClient(svc.URL)
	fresh.mustLogin(t, ctx, email, newPassword) // unlocked, with the new password
	if _, ans, _ := newClient(svc.URL).passwordLogin(ctx, email, oldPassword); ans.Status != http.StatusUnauthorized {
		t.Errorf("the old password after the reset: %d %s, want 401", ans.Status, ans.Body)
	}
	if _, ans, _ := newClient(svc.URL).refresh(ctx, stolen.RefreshToken); ans.Status != http.StatusUnauthorized {
		t.Errorf("the refresh token from before the reset: %d %s, want 401", ans.Status, ans.Body)
	}
	if a := newClient(svc.URL).withToken(stolen.AccessToken).mustRaw(t, ctx, http.MethodGet, "/users/me", nil, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("the access token from before the reset: %d %s, want 401", a.Status, a.Body)
	}
	if me, err := fresh.me(ctx); err != nil || me.Email != email || me.IsLocked {
		t.Errorf("the new session: %+v %v, want the unlocked user", me, err)
	}

	// The link works once, by the API and by the page's form.
	ans, err = newClient(svc.URL).confirmReset(ctx, token, "yet another passphrase")
	mustOK(t, err)
	if ans.Status != http.StatusBadRequest || ans.detail() != "Invalid or expired reset token" {
		t.Errorf("reusing the reset token: %d %s, want 400 Invalid or expired reset token", ans.Status, ans.Body)
	}
	form := browser.mustRaw(t, ctx, http.MethodPost, "/password-reset", url.Values{
		"token": {token}, "new_password": {"yet another passphrase"}, "repeat_password": {"yet another passphrase"},
	}, http.Header{"Accept": {"text/html"}})
	if form.Status != http.StatusBadRequest {
		t.Errorf("reusing the reset link through its form: %d, want 400", form.Status)
	}
	fresh.mustLogin(t, ctx, email, newPassword)
}

// TestRefreshTokenReuseRevokesFamilyAcrossRestart: a stolen refresh token
// replayed after its owner rotated it is refused and ends the owner's
// session too (the thief's copy and the owner's are one family), even when
// the service restarted in between: the state is in the database.
func TestRefreshTokenReuseRevokesFamilyAcrossRestart(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dir := t.TempDir()
	env := baseEnv(t, sqliteURL(t))
	svc := startService(t, dir, env)
	const email, password = "rotate@example.com", "a rotating passphrase"
	registerVerified(t, ctx, email, password, svc)

	c := newClient(svc.URL)
	first := c.mustLogin(t, ctx, email, password)
	second, ans, err := c.refresh(ctx, first.RefreshToken)
	mustOK(t, err)
	if ans.Status != http.StatusOK || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %d %s, want 200 and a new refresh token", ans.Status, ans.Body)
	}
	// A second session, rotated the same way and never replayed: it must
	// survive the restart, so the refusals below are the reuse detection's.
	other := newClient(svc.URL).mustLogin(t, ctx, email, password)
	otherNext, ans, err := c.refresh(ctx, other.RefreshToken)
	mustOK(t, err)
	if ans.Status != http.StatusOK {
		t.Fatalf("refresh of the other session: %d %s", ans.Status, ans.Body)
	}

	svc.stop()
	svc = startService(t, dir, env)
	c = newClient(svc.URL)

	if _, ans, _ := c.refresh(ctx, first.RefreshToken); ans.Status != http.StatusUnauthorized || ans.detail() != "Invalid refresh token" {
		t.Fatalf("replaying the rotated refresh token: %d %s, want 401 Invalid refresh token", ans.Status, ans.Body)
	}
	if _, ans, _ := c.refresh(ctx, second.RefreshToken); ans.Status != http.StatusUnauthorized {
		t.Fatalf("the family's current refresh token after the replay: %d %s, want 401", ans.Status, ans.Body)
	}
	if _, ans, _ := c.refresh(ctx, otherNext.RefreshToken); ans.Status != http.StatusOK {
		t.Fatalf("an unrelated session's refresh token after the restart: %d %s, want 200", ans.Status, ans.Body)
	}
}

// pgAdmin opens the server of TEST_DATABASE_URL, for the outage test.
func pgAdmin(t *testing.T) *sql.DB {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = sqlstoretest.DefaultPostgresURL
	}
	db, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDatabaseOutageGivesFast503AndRecovers: when the database goes away,
// clients get prompt 503s they can retry (never a 500, never a hang), and
// the service comes back by itself when the database does.
func TestDatabaseOutageGivesFast503AndRecovers(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dbURL := sqlstoretest.NewPostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := pq.QuoteIdentifier(strings.TrimPrefix(u.Path, "/"))
	svc := startService(t, t.TempDir(), baseEnv(t, dbURL))
	const email, password = "outage-db@example.com", "an outage passphrase"
	registerVerified(t, ctx, email, password, svc)
	session := newClient(svc.URL)
	session.mustLogin(t, ctx, email, password)

	admin := pgAdmin(t)
	exec := func(query string, args ...any) {
		t.Helper()
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(actx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// However the test ends, the database must accept connections again,
	// so that it can be dropped.
	t.Cleanup(func() { exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true") })
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", strings.TrimPrefix(u.Path, "/"))

	quick := newClient(svc.URL)
	quick.http = &http.Client{Timeout: 10 * time.Second}
	authed := quick.withToken(session.token)
	requests := []struct {
		name string
		do   func() (answer, error)
	}{
		{"GET /readyz", func() (answer, error) { return quick.raw(ctx, http.MethodGet, "/readyz", nil, nil) }},
		{"POST /login/", func() (answer, error) {
			_, a, err := quick.passwordLogin(ctx, email, password)
			return a, err
		}},
		{"POST /register/", func() (answer, error) {
			return quick.raw(ctx, http.MethodPost, "/register/", map[string]string{"email": "late@example.com", "password": "a late passphrase"}, nil)
		}},
		{"GET /users/me", func() (answer, error) { return authed.raw(ctx, http.MethodGet, "/users/me", nil, nil) }},
	}
	// PostgreSQL answers new connections with SQLSTATE 55000 ("database …
	// is not currently accepting connections"): an outage, so 503.
	for _, r := range requests {
		a, err := r.do()
		if err != nil {
			t.Errorf("%s during the outage: %v, want a 503 within 10 s", r.name, err)
			continue
		}
		if a.Status != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: %d %s, want 503", r.name, a.Status, a.Body)
		}
		if r.name != "GET /readyz" && a.Status == http.StatusServiceUnavailable && a.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", r.name)
		}
	}

	if t.Failed() {
		// The service's own account of the 500s, for whoever fixes them.
		for _, line := range strings.Split(svc.logs.String(), "\n") {
			if strings.Contains(line, "internal error") || strings.Contains(line, "not ready") {
				t.Log(line)
			}
		}
	}

	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := quick.raw(ctx, http.MethodGet, "/readyz", nil, nil)
		if err == nil && a.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 20 s of the database's return: %+v %v", a, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	newClient(svc.URL).mustLogin(t, ctx, email, password)
	if _, err := session.me(ctx); err != nil {
		t.Errorf("the session from before the outage: %v", err)
	}
}
