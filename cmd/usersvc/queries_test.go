package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/internal/testsupport"
)

// TestQueriesPerRequest counts, on PostgreSQL, the statements and
// transactions each kind of request sends, through the real wiring: the
// figures issue 8 and 9 promise, checked rather than estimated.
func TestQueriesPerRequest(t *testing.T) {
	counter := &testsupport.QueryCounter{}
	env := map[string]string{
		"DATABASE_URL":    sqlstoretest.NewPostgresURL(t),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"RATE_LIMITS":     "off",
	}
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wctx, stop := context.WithCancel(ctx)
	cache, watched, err := newAuthCache(wctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); <-watched })
	hasher, err := newHasher(c)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := newTokens(c, log)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newServiceWith(ctx, c, store, cache, hasher, tokens, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	waitLive(t, cache)
	const password = "correct horse battery"
	alice, err := svc.CreateAdmin(ctx, "alice@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := svc.CreateAdmin(ctx, "bob@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(log, svc, httpapi.Options{Ready: store.Ping})
	_ = alice

	do := func(method, target, token, contentType, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	measure := func(name string, wantStatus int, fn func() *httptest.ResponseRecorder) (testsupport.QueryCount, *httptest.ResponseRecorder) {
		t.Helper()
		before := counter.Snapshot()
		rec := fn()
		got := counter.Since(before)
		if rec.Code != wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", name, rec.Code, wantStatus, rec.Body)
		}
		t.Logf("%-28s %2d statements, %d transactions", name, got.Statements, got.Transactions)
		for _, q := range got.Log {
			t.Logf("    %s", oneLineSQL(q))
		}
		return got, rec
	}

	login, rec := measure("POST /login/", http.StatusOK, func() *httptest.ResponseRecorder {
		return do(http.MethodPost, "/login/", "", "application/x-www-form-urlencoded",
			url.Values{"username": {"alice@example.com"}, "password": {password}}.Encode())
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	me, _ := measure("GET /users/me (first)", http.StatusOK, func() *httptest.ResponseRecorder {
		return do(http.MethodGet, "/users/me", tok.AccessToken, "", "")
	})
	meCached, _ := measure("GET /users/me (again)", http.StatusOK, func() *httptest.ResponseRecorder {
		return do(http.MethodGet, "/users/me", tok.AccessToken, "", "")
	})
	other, _ := measure("GET /users/{id}", http.StatusOK, func() *httptest.ResponseRecorder {
		return do(http.MethodGet, "/users/"+bob.ID(), tok.AccessToken, "", "")
	})
	otherCached, _ := measure("GET /users/{id} (again)", http.StatusOK, func() *httptest.ResponseRecorder {
		return do(http.MethodGet, "/users/"+bob.ID(), tok.AccessToken, "", "")
	})
	change, _ := measure("PUT /users/me/password", http.StatusNoContent, func() *httptest.ResponseRecorder {
		return do(http.MethodPut, "/users/me/password", tok.AccessToken, "application/json",
			`{"current_password":"`+password+`","new_password":"a brand new passphrase"}`)
	})

	for _, b := range []struct {
		name          string
		got           testsupport.QueryCount
		maxStatements int
		maxTxs        int
	}{
		// Before issue 8: 9 statements in 3 transactions, 3, 3, and 11 in 4.
		// Round trips are statements plus two per transaction (BEGIN, COMMIT).
		{"login", login, 3, 0},       // admit: read, write; decide: write + open the session + audit, one statement, from the row admission wrote
		{"me", me, 1, 0},             // the session and its user, together
		{"me again", meCached, 0, 0}, // from the authentication cache
		// From then on authentication is free: a read is its own query.
		{"get user", other, 1, 0},
		{"get user again", otherCached, 0, 0}, // the user too is cached until it changes
		// admit: write (from the row the login wrote); decide: since the
		// change owes a webhook event, under the lock: read, change,
		// webhook endpoints, audit, end the others, notify.
		{"password change", change, 7, 1},
	} {
		if b.maxStatements >= 0 && b.got.Statements > b.maxStatements {
			t.Errorf("%s: %d statements, want at most %d", b.name, b.got.Statements, b.maxStatements)
		}
		if b.maxTxs >= 0 && b.got.Transactions > b.maxTxs {
			t.Errorf("%s: %d transactions, want at most %d", b.name, b.got.Transactions, b.maxTxs)
		}
	}
}

// oneLineSQL shortens a statement for the log.
func oneLineSQL(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 110 {
		q = q[:110] + "…"
	}
	return q
}

// waitLive waits until the cache listens for changes.
func waitLive(t *testing.T, cache interface{ Live() bool }) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cache.Live() {
		if time.Now().After(deadline) {
			t.Fatal("the authentication cache never started listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
