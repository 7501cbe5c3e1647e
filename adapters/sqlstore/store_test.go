package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/porttest"
)

func TestSQLiteUserStore(t *testing.T) {
	t.Parallel()
	porttest.UserStore(t, func(t *testing.T) ports.UserStore {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresUserStore(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.UserStore(t, func(t *testing.T) ports.UserStore { return newStore(t) })
}

func TestSQLiteSessionStore(t *testing.T) {
	t.Parallel()
	porttest.SessionStore(t, func(t *testing.T) porttest.SessionStoreUnderTest {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresSessionStore(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.SessionStore(t, func(t *testing.T) porttest.SessionStoreUnderTest { return newStore(t) })
}

func TestSQLiteAuditLog(t *testing.T) {
	t.Parallel()
	porttest.AuditLog(t, func(t *testing.T) porttest.AuditStoreUnderTest {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresAuditLog(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.AuditLog(t, func(t *testing.T) porttest.AuditStoreUnderTest { return newStore(t) })
}

func TestSQLiteUserStats(t *testing.T) {
	t.Parallel()
	porttest.UserStats(t, func(t *testing.T) porttest.StatsStoreUnderTest {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresUserStats(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.UserStats(t, func(t *testing.T) porttest.StatsStoreUnderTest { return newStore(t) })
}

// emptyPostgres migrates a throwaway database and returns a function that
// empties it and opens a store on it. A suite's subtests run one at a time,
// so each starts empty.
func emptyPostgres(t *testing.T) func(t *testing.T) *sqlstore.Store {
	t.Helper()
	dbURL := sqlstoretest.NewPostgresURL(t)
	openMigrated(t, dbURL)
	raw := rawPostgres(t, dbURL)
	return func(t *testing.T) *sqlstore.Store {
		t.Helper()
		emptyTables(t, raw, "users, outbox, sessions, refresh_tokens, audit_log,"+
			" webhooks, webhook_events, webhook_deliveries, change_receipts")
		return openMigrated(t, dbURL)
	}
}

// emptyTables truncates tables and zeroes the user count. The previous
// subtest's store may still be preparing a statement in the background,
// which locks tables in an order of its own: the server may then break a
// deadlock by failing the TRUNCATE, which is tried again.
func emptyTables(t *testing.T, raw *sql.DB, tables string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		_, err := raw.ExecContext(t.Context(), "TRUNCATE "+tables+"; UPDATE user_count SET n = 0")
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "40P01") {
			t.Fatalf("empty tables: %v", err)
		}
	}
}

func TestSQLiteWebhooks(t *testing.T) {
	t.Parallel()
	porttest.Webhooks(t, func(t *testing.T) porttest.WebhookStoreUnderTest {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresWebhooks(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.Webhooks(t, func(t *testing.T) porttest.WebhookStoreUnderTest { return newStore(t) })
}

func TestSQLiteOutbox(t *testing.T) {
	t.Parallel()
	porttest.Outbox(t, func(t *testing.T) porttest.OutboxStore {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresOutbox(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.Outbox(t, func(t *testing.T) porttest.OutboxStore { return newStore(t) })
}

// TestOutboxRows checks what the port cannot show: a sent message loses its
// link, and errors are stored clean and cut to 1000 characters.
func TestOutboxRows(t *testing.T) {
	t.Parallel()
	// Each database: its URL, a raw connection and its placeholder.
	for name, dbs := range map[string]func(testing.TB) (string, *sql.DB, string){
		"sqlite": func(tb testing.TB) (string, *sql.DB, string) {
			path := filepath.Join(tb.TempDir(), "usersvc.db")
			return "sqlite:" + path, rawSQLite(tb, path), "?"
		},
		"postgres": func(tb testing.TB) (string, *sql.DB, string) {
			dbURL := sqlstoretest.NewPostgresURL(tb)
			return dbURL, rawPostgres(tb, dbURL), "$1"
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dbURL, raw, param := dbs(t)
			s := openMigrated(t, dbURL)
			now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
			u := newUser(t)
			for _, name := range []string{"sent", "retried", "failed"} {
				u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: name, Link: "https://example.com/secret"})
			}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			claimed, err := s.ClaimMessages(ctx, time.Now(), 10, time.Minute)
			if err != nil || len(claimed) != 3 {
				t.Fatalf("ClaimMessages: %d messages, %v; want 3", len(claimed), err)
			}
			id := map[string]string{}
			for _, m := range claimed {
				id[m.Message.Name] = m.Message.ID
			}
			long := strings.Repeat("é", 1500) + "\xff\x00"
			for _, err := range []error{
				s.MarkSent(ctx, id["sent"], now),
				s.MarkRetry(ctx, id["retried"], now, long),
				s.MarkFailed(ctx, id["failed"], now, "550\x00 no such user"),
			} {
				if err != nil {
					t.Fatalf("mark: %v", err)
				}
			}
			type row struct {
				status, link, lastErr  string
				sent, failed, attempts int
			}
			want := map[string]row{
				"sent":    {status: "sent", sent: 1, attempts: 1},
				"retried": {status: "pending", link: "https://example.com/secret", lastErr: strings.Repeat("é", 1000), attempts: 1},
				"failed":  {status: "failed", lastErr: "550 no such user", failed: 1, attempts: 1}, // the link, a secret, is erased
			}
			for name, w := range want {
				var got row
				q := `SELECT status, coalesce(link, ''), coalesce(last_error, ''),
					CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END, CASE WHEN failed_at IS NULL THEN 0 ELSE 1 END, attempts
					FROM outbox WHERE id = ` + param
				if err := raw.QueryRowContext(ctx, q, id[name]).Scan(&got.status, &got.link, &got.lastErr, &got.sent, &got.failed, &got.attempts); err != nil {
					t.Fatalf("read %s: %v", name, err)
				}
				if got != w {
					t.Errorf("%s row = %+v, want %+v", name, got, w)
				}
			}
		})
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"",
		"no-scheme-here",
		"mysql://root@localhost/db",
		"postgres://user:hunter2secret@host:notaport/db",
		"postgres://user:hunter2secret@[::1/db",
		"sqlite:",
		"sqlite://",
	} {
		s, err := sqlstore.Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2secret") {
			t.Errorf("Open(%q) error %q: want one line without the password", u, msg)
		}
	}
}

func TestOpenUnreachablePostgresFailsFast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, err := sqlstore.Open(t.Context(), "postgres://postgres:hunter2secret@127.0.0.1:1/postgres?sslmode=disable")
	if err == nil {
		s.Close()
		t.Fatal("Open on a closed port succeeded")
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("Open took %v to fail, want under the 5 s ping timeout", d)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || strings.Contains(msg, "hunter2secret") || !strings.Contains(msg, "127.0.0.1:1") {
		t.Errorf("error %q: want one line naming the address and not the password", msg)
	}
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("error %v does not wrap domain.ErrUnavailable", err)
	}
}

func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{
		"sqlite":   sqliteURL,
		"postgres": sqlstoretest.NewPostgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t, dbURL(t))
			assertStatus(t, s, "pending")
			for range 2 {
				if err := s.Migrate(ctx); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
				assertStatus(t, s, "applied")
				// A row in every table, so each down step drops filled tables.
				u := newUser(t)
				u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: "x"})
				u.Record(domain.AuditEvent{Type: domain.EventUserRegistered, TargetID: u.ID()})
				u.SetResetToken("reset-hash", time.Now().Add(time.Hour))
				u.SetUnlockToken("unlock-hash", time.Now().Add(time.Hour))
				_ = u.BeginTOTPEnrolment("sealed-secret", time.Now())
				u.SetMFAToken("mfa-hash", time.Now().Add(time.Minute))
				u.OpenSession(domain.NewSession(uuid.NewString(), time.Now(), domain.SessionPolicy{TTL: time.Hour}, "192.0.2.1", "test"), "refresh-hash")
				if err := s.CreateUser(ctx, u); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				// Down one step at a time: the newest applied one goes.
				n := len(migrationStates(t, s))
				for applied := n - 1; applied >= 0; applied-- {
					if err := s.MigrateDown(ctx); err != nil {
						t.Fatalf("MigrateDown to %d applied: %v", applied, err)
					}
					for i, st := range migrationStates(t, s) {
						if want := map[bool]string{true: "applied", false: "pending"}[i < applied]; st != want {
							t.Errorf("with %d applied, migration %d is %s, want %s", applied, i+1, st, want)
						}
					}
				}
				if err := s.CreateUser(ctx, newUser(t)); err == nil {
					t.Fatal("CreateUser succeeded with no users table")
				}
			}
			if err := s.MigrateDown(ctx); err != nil {
				t.Fatalf("MigrateDown with nothing applied: %v", err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate with nothing pending: %v", err)
			}
		})
	}
}

// TestFailedSaveLeavesNothing checks what the contract suites cannot stage:
// when saving an audit event fails after the user row was written, the
// whole change is rolled back, messages included, and a failed CreateUser
// leaves its messages and events on the user.
func TestFailedSaveLeavesNothing(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{
		"sqlite":   sqliteURL,
		"postgres": sqlstoretest.NewPostgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openMigrated(t, dbURL(t))
			// An event id that is not a UUID cannot be saved.
			bad := domain.AuditEvent{ID: "not-a-uuid", Type: domain.EventUserRegistered, At: time.Now()}
			msg := domain.Message{Kind: domain.MessageVerifyEmail, To: "x@example.com", Name: "x"}

			u := newUser(t)
			u.Queue(msg)
			u.Record(bad)
			if err := s.CreateUser(ctx, u); !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("CreateUser with an unsavable event: error = %v, want ErrInvalid", err)
			}
			if _, err := s.UserByID(ctx, u.ID()); !errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("user whose event failed to save: UserByID error = %v, want ErrUserNotFound", err)
			}
			if len(u.TakeMessages()) != 1 || len(u.TakeEvents()) != 1 {
				t.Error("a failed CreateUser did not leave the message and event on the user")
			}

			kept := mustCreate(t, s)
			if err := s.UpdateUser(ctx, kept.ID(), func(cur *domain.User) error {
				cur.SetRole(domain.RoleManager, time.Now())
				cur.Queue(msg)
				cur.Record(domain.AuditEvent{Type: domain.EventRoleChanged, TargetID: cur.ID()})
				cur.Record(bad)
				return nil
			}); !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("UpdateUser with an unsavable event: error = %v, want ErrInvalid", err)
			}
			if got, err := s.UserByID(ctx, kept.ID()); err != nil || got.Role() != domain.RoleAnonymous {
				t.Errorf("after a failed update: role %v (%v), want it unchanged", got.Role(), err)
			}
			if err := s.DeleteUser(ctx, kept.ID(), func(cur *domain.User, _ int) error { cur.Record(bad); return nil }); !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("DeleteUser with an unsavable event: error = %v, want ErrInvalid", err)
			}
			if _, err := s.UserByID(ctx, kept.ID()); err != nil {
				t.Errorf("after a failed delete: UserByID: %v", err)
			}
			if got, err := s.ClaimMessages(ctx, time.Now().Add(time.Hour), 10, time.Minute); err != nil || len(got) != 0 {
				t.Errorf("messages of failed changes: %d (%v), want none", len(got), err)
			}
			if got, err := s.ListEvents(ctx, ports.AuditFilter{}); err != nil || len(got) != 0 {
				t.Errorf("events of failed changes: %d (%v), want none", len(got), err)
			}
		})
	}
}

// TestSessionAndAuditRows checks what the ports cannot show: a deleted
// user's refresh token rows go too (foreign keys are on, on SQLite too),
// audit rows stay, and free text is stored clean.
func TestSessionAndAuditRows(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, _ string, s *sqlstore.Store, raw *sql.DB) {
		ctx := t.Context()
		now := time.Now()
		u := mustCreate(t, s)
		if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			cur.OpenSession(domain.NewSession(uuid.NewString(), now, domain.SessionPolicy{TTL: time.Hour}, "", ""), "h1")
			return nil
		}); err != nil {
			t.Fatalf("OpenSession: %v", err)
		}
		if _, _, err := s.RotateRefreshToken(ctx, "h1", "h2", now, func(sess domain.Session, _ *domain.User) (domain.Session, error) {
			return sess, nil
		}); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		if err := s.DeleteUser(ctx, u.ID(), func(cur *domain.User, _ int) error {
			cur.Record(domain.AuditEvent{Type: domain.EventUserDeleted, TargetID: cur.ID(), At: now, IP: "192.0.2.1\x00", Detail: "bad \xff\x00 text"})
			return nil
		}); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		for table, want := range map[string]int{"users": 0, "sessions": 0, "refresh_tokens": 0, "audit_log": 1} {
			var n int
			if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", table, err)
			}
			if n != want {
				t.Errorf("%s holds %d rows after DeleteUser, want %d", table, n, want)
			}
		}
		got, err := s.ListEvents(ctx, ports.AuditFilter{TargetID: u.ID()})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListEvents: %d events, %v; want 1", len(got), err)
		}
		if got[0].IP != "192.0.2.1" || got[0].Detail != "bad \uFFFD text" {
			t.Errorf("stored IP %q, detail %q; want them without NUL and as valid UTF-8", got[0].IP, got[0].Detail)
		}
	})
}

func TestPostgresConcurrentMigrate(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.NewPostgresURL(t)
	stores := []*sqlstore.Store{open(t, dbURL), open(t, dbURL), open(t, dbURL)}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	assertStatus(t, stores[0], "applied")
	mustCreate(t, stores[0])
}

func TestSQLiteSurvivesReopen(t *testing.T) {
	t.Parallel()
	// A nested, not yet existing directory: Open creates it.
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "nested", "dir", "usersvc.db")
	s := openMigrated(t, dbURL)
	u := mustCreate(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openMigrated(t, dbURL)
	got, err := s.UserByID(t.Context(), u.ID())
	if err != nil {
		t.Fatalf("UserByID after reopen: %v", err)
	}
	if got.Email() != u.Email() {
		t.Errorf("email after reopen = %q, want %q", got.Email(), u.Email())
	}
}

func TestSQLiteURLForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, dbURL := range []string{
		"sqlite::memory:",
		"sqlite:" + filepath.Join(dir, "plain.db"),
		"sqlite://" + filepath.Join(dir, "slashes.db"),
		"sqlite:file:" + filepath.Join(dir, "uri.db") + "?cache=private",
		"sqlite:" + filepath.Join(dir, "odd?name#1.db"),
	} {
		s := openMigrated(t, dbURL)
		u := mustCreate(t, s)
		if _, err := s.UserByID(t.Context(), u.ID()); err != nil {
			t.Errorf("%s: UserByID: %v", dbURL, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("%s: Ping: %v", dbURL, err)
		}
	}
}

func sqliteURL(tb testing.TB) string {
	return "sqlite:" + filepath.Join(tb.TempDir(), "usersvc.db")
}

func open(tb testing.TB, dbURL string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func openMigrated(tb testing.TB, dbURL string) *sqlstore.Store {
	tb.Helper()
	s := open(tb, dbURL)
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

func newUser(tb testing.TB) *domain.User {
	tb.Helper()
	return newUserWith(tb, uuid.NewString(), domain.RoleAnonymous)
}

func newUserWith(tb testing.TB, id string, role domain.Role) *domain.User {
	tb.Helper()
	tag := strings.ReplaceAll(id, "-", "")
	u, err := domain.NewUser(domain.NewUserParams{
		ID:       id,
		Email:    "u" + tag + "@example.com",
		Nickname: "u_" + tag,
		Role:     role,
		Now:      time.Now(),
	})
	if err != nil {
		tb.Fatalf("NewUser: %v", err)
	}
	return u
}

func mustCreate(tb testing.TB, s *sqlstore.Store) *domain.User {
	tb.Helper()
	u := newUser(tb)
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser: %v", err)
	}
	return u
}

// migrationStates lists the state of each known migration, oldest first.
func migrationStates(tb testing.TB, s *sqlstore.Store) []string {
	tb.Helper()
	var buf bytes.Buffer
	if err := s.MigrationStatus(context.Background(), &buf); err != nil {
		tb.Fatalf("MigrationStatus: %v", err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		out = append(out, strings.Fields(l)[0])
	}
	return out
}

// assertStatus checks every migration is in state want.
func assertStatus(tb testing.TB, s *sqlstore.Store, want string) {
	tb.Helper()
	var buf bytes.Buffer
	if err := s.MigrationStatus(context.Background(), &buf); err != nil {
		tb.Fatalf("MigrationStatus: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		tb.Fatal("MigrationStatus listed no migrations")
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, want+" ") || !strings.HasSuffix(l, ".sql") {
			tb.Errorf("status line %q, want %s …sql", l, want)
		}
	}
}

// TestPostgresPromotionRaceRetried stages the one deadlock the admin locking
// allows: T becomes ADMIN between two transactions' snapshots, so one locks
// A then T, the other T then A. PostgreSQL aborts one; the store retries it.
func TestPostgresPromotionRaceRetried(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := sqlstoretest.NewPostgresURL(t)
	raw := rawPostgres(t, dbURL)
	// Detect the deadlock quickly (default 1 s); best effort, needs superuser.
	_, _ = raw.ExecContext(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET deadlock_timeout = %L', current_database(), '50ms'); END $$`)
	s := openMigrated(t, dbURL)

	const (
		idT = "00000000-0000-4000-8000-000000000000" // sorts before idA
		idA = "ffffffff-ffff-4fff-bfff-ffffffffffff"
	)
	idX := uuid.NewString()
	for id, role := range map[string]domain.Role{idT: domain.RoleManager, idA: domain.RoleAdmin, idX: domain.RoleManager} {
		if err := s.CreateUser(ctx, newUserWith(t, id, role)); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}

	hold, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.ExecContext(ctx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", idA); err != nil {
		t.Fatal(err)
	}
	// Each closure queues a message and records an event: a retried
	// transaction must save each once.
	noop := func(u *domain.User, _ int) error {
		u.Queue(domain.Message{Kind: domain.MessageProfessional, To: u.Email(), Name: u.ID()})
		u.Record(domain.AuditEvent{Type: domain.EventUserUpdated, TargetID: u.ID()})
		return nil
	}
	errs := make(chan error, 2)
	// First: snapshot without T as ADMIN, waits for A, then will lock T.
	go func() { errs <- s.UpdateUserCountingAdmins(ctx, idT, noop) }()
	waitForLockWaiters(t, raw, 1)
	if _, err := raw.ExecContext(ctx, "UPDATE users SET role = 'ADMIN' WHERE id = $1", idT); err != nil {
		t.Fatal(err)
	}
	// Second: sees T and A as ADMINs, locks T, waits for A.
	go func() { errs <- s.UpdateUserCountingAdmins(ctx, idX, noop) }()
	waitForLockWaiters(t, raw, 2)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("UpdateUserCountingAdmins: %v", err)
		}
	}
	claimed, err := s.ClaimMessages(ctx, time.Now().Add(time.Hour), 100, time.Hour)
	if err != nil {
		t.Fatalf("ClaimMessages: %v", err)
	}
	names := map[string]int{}
	for _, m := range claimed {
		names[m.Message.Name]++
	}
	if len(claimed) != 2 || names[idT] != 1 || names[idX] != 1 {
		t.Errorf("saved messages for %v, want one each for %s and %s", names, idT, idX)
	}
	events, err := s.ListEvents(ctx, ports.AuditFilter{Type: domain.EventUserUpdated})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	targets := map[string]int{}
	for _, e := range events {
		targets[e.TargetID]++
	}
	if len(events) != 2 || targets[idT] != 1 || targets[idX] != 1 {
		t.Errorf("saved events for %v, want one each for %s and %s", targets, idT, idX)
	}
}

// rawDatabases make an empty database of each dialect, returning its URL
// for the store and a connection of its own for reading the rows back.
// eachDatabase runs test, in parallel, on a migrated store of a new
// database of each kind, with a raw connection to it.
func eachDatabase(t *testing.T, test func(t *testing.T, name string, s *sqlstore.Store, raw *sql.DB)) {
	t.Helper()
	for name, dbs := range rawDatabases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL, raw := dbs(t)
			test(t, name, openMigrated(t, dbURL), raw)
		})
	}
}

var rawDatabases = map[string]func(testing.TB) (string, *sql.DB){
	"sqlite": func(tb testing.TB) (string, *sql.DB) {
		path := filepath.Join(tb.TempDir(), "usersvc.db")
		return "sqlite:" + path, rawSQLite(tb, path)
	},
	"postgres": func(tb testing.TB) (string, *sql.DB) {
		dbURL := sqlstoretest.NewPostgresURL(tb)
		return dbURL, rawPostgres(tb, dbURL)
	},
}

func rawSQLite(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func rawPostgres(tb testing.TB, dbURL string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// waitForLockWaiters waits until n sessions of this database wait for a lock.
func waitForLockWaiters(tb testing.TB, db *sql.DB, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int
		err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got)
		if err != nil {
			tb.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d sessions wait for a lock after 10 s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSQLiteUserImporter(t *testing.T) {
	t.Parallel()
	porttest.UserImporter(t, func(t *testing.T) porttest.ImporterUnderTest {
		return openMigrated(t, sqliteURL(t))
	})
}

func TestPostgresUserImporter(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	porttest.UserImporter(t, func(t *testing.T) porttest.ImporterUnderTest { return newStore(t) })
}

// The kept user count (the list page's unfiltered total) follows inserts,
// batch inserts and deletes, and a refused insert leaves it as it was.
func TestUserCountIsKept(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, _ string, s *sqlstore.Store, raw *sql.DB) {
		ctx := t.Context()
		check := func(want int) {
			t.Helper()
			_, total, err := s.ListUsers(ctx, ports.UserQuery{WithTotal: true})
			if err != nil {
				t.Fatal(err)
			}
			var real int
			if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&real); err != nil {
				t.Fatal(err)
			}
			if total != want || real != want {
				t.Errorf("total %d, count(*) %d; want %d", total, real, want)
			}
		}
		check(0)
		var users []*domain.User
		for range 5 {
			users = append(users, mustCreate(t, s))
		}
		check(5)
		dup := newUser(t)
		if err := s.CreateUser(ctx, domain.RehydrateUser(func() domain.UserState { st := dup.State(); st.Email = users[0].Email(); return st }())); !errors.Is(err, domain.ErrEmailTaken) {
			t.Fatalf("a duplicate email: %v", err)
		}
		check(5)
		if err := s.CreateUsers(ctx, []*domain.User{newUser(t), newUser(t), newUser(t)}); err != nil {
			t.Fatal(err)
		}
		check(8)
		for _, u := range users[:2] {
			if err := s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		check(6)
		// A filtered total still counts the rows.
		if _, total, err := s.ListUsers(ctx, ports.UserQuery{WithTotal: true, Role: domain.RoleAnonymous}); err != nil || total != 6 {
			t.Errorf("filtered total %d, %v; want 6", total, err)
		}
	})
}
