// Package sqlstoretest helps tests that need a real PostgreSQL database.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/lib/pq"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const startHint = "start one with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start " +
	"(or point TEST_DATABASE_URL at a server whose user may CREATE DATABASE)"

// NewPostgresURL creates an empty throwaway database on the server named by
// TEST_DATABASE_URL (default DefaultPostgresURL) and returns its URL. The
// database is dropped when the test ends. With no server reachable the test
// fails, saying how to start one: a skipped store is an untested store.
func NewPostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("TEST_DATABASE_URL must be a postgres:// URL")
	}
	where := u.Host + u.Path

	admin, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatalf("PostgreSQL at %s: %v", where, err)
	}
	admin.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		tb.Fatalf("no PostgreSQL server reachable at %s (%v); %s", where, err, startHint)
	}

	name := "usersvc_test_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		admin.Close()
		tb.Fatalf("create test database on %s: %v", where, err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends sessions the test left open (PostgreSQL 13+).
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}
