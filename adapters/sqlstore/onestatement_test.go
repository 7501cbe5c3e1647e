package sqlstore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// A change is all or nothing when the database refuses its last write
// (here a trigger on refresh_tokens): on PostgreSQL, where a login's change
// is one statement, as on SQLite, where it is a transaction.
func TestChangeRefusedByTheDatabaseLeavesNothing(t *testing.T) {
	t.Parallel()
	refuse := map[string][]string{
		"sqlite": {"CREATE TRIGGER refuse BEFORE INSERT ON refresh_tokens BEGIN SELECT RAISE(ABORT, 'refused'); END"},
		"postgres": {
			"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
			"CREATE TRIGGER refuse BEFORE INSERT ON refresh_tokens FOR EACH ROW EXECUTE FUNCTION refuse()",
		},
	}
	eachDatabase(t, func(t *testing.T, name string, s *sqlstore.Store, raw *sql.DB) {
		ctx := t.Context()
		u := mustCreate(t, s)
		for _, stmt := range refuse[name] {
			if _, err := raw.ExecContext(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			cur.SetRole(domain.RoleManager, now)
			cur.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: cur.Email(), Name: "x"})
			cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, TargetID: cur.ID(), At: now})
			cur.OpenSession(domain.NewSession(uuid.NewString(), now, domain.SessionPolicy{TTL: time.Hour}, "", ""), "h1")
			return nil
		})
		if err == nil {
			t.Fatal("UpdateUser whose refresh token the database refuses succeeded")
		}
		if got, err := s.UserByID(ctx, u.ID()); err != nil || got.Role() != domain.RoleAnonymous {
			t.Errorf("after the refused change: role %v (%v), want it unchanged", got.Role(), err)
		}
		for _, table := range []string{"outbox", "audit_log", "sessions", "refresh_tokens"} {
			var n int
			if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s holds %d rows after the refused change, want none", table, n)
			}
		}
	})
}

// On PostgreSQL a change is written without a lock, only if the user is
// still as it was read: a change that loses the race to another runs
// again on the user as the other left it, so neither is lost, and a
// losing run writes nothing (no event, no session ended). That holds for
// a change of the user and for one that only records rows. After
// optimisticAttempts lost races the change runs under the row's lock,
// where no other change can come between.
func TestPostgresChangeThatLosesARaceRunsAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		losses int
		change func(cur *domain.User)
	}{
		{"a change of the user", 1, func(cur *domain.User) { cur.SetRole(domain.RoleManager, time.Now()) }},
		{"records only", 1, func(*domain.User) {}},
		{"a change of the user, 3 lost races", 3, func(cur *domain.User) { cur.SetRole(domain.RoleManager, time.Now()) }},
	} {
		dbURL := sqlstoretest.NewPostgresURL(t)
		s, raw := openMigrated(t, dbURL), rawPostgres(t, dbURL)
		ctx := t.Context()
		u := mustCreate(t, s)
		sid := uuid.NewString()
		if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			cur.OpenSession(domain.NewSession(sid, time.Now(), domain.SessionPolicy{TTL: time.Hour}, "", ""), "h-"+sid)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		runs, locked := 0, 0
		err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			runs++
			if _, err := raw.ExecContext(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE NOWAIT", cur.ID()); err != nil {
				locked++ // this run holds the row's lock
			}
			if runs <= tc.losses {
				// Another change of the user, between this one's read and
				// its write.
				name := "Other" + strconv.Itoa(runs)
				if err := s.UpdateUser(ctx, cur.ID(), func(o *domain.User) error {
					return o.UpdateProfile(domain.ProfilePatch{FirstName: &name}, time.Now())
				}); err != nil {
					return err
				}
				// What a losing run records must not be written.
				cur.EndSession(sid, time.Now())
			}
			tc.change(cur)
			// An event that owes no webhook event (those are saved under the lock).
			cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, TargetID: cur.ID(), At: time.Now()})
			return nil
		})
		if err != nil {
			t.Fatalf("%s: UpdateUser: %v", tc.name, err)
		}
		if runs != tc.losses+1 {
			t.Errorf("%s: the change ran %d times, want %d", tc.name, runs, tc.losses+1)
		}
		if wantLocked := max(0, runs-3); locked != wantLocked {
			t.Errorf("%s: %d runs under the row's lock, want %d (after three lost races)", tc.name, locked, wantLocked)
		}
		got, err := s.UserByID(ctx, u.ID())
		if err != nil {
			t.Fatal(err)
		}
		if wantName := "Other" + strconv.Itoa(tc.losses); got.State().Profile.FirstName != wantName {
			t.Errorf("%s: first name %q, want %q (no change lost)", tc.name, got.State().Profile.FirstName, wantName)
		}
		if tc.name != "records only" && got.Role() != domain.RoleManager {
			t.Errorf("%s: role %v, want MANAGER", tc.name, got.Role())
		}
		events, err := s.ListEvents(ctx, ports.AuditFilter{Type: domain.EventLoginSucceeded})
		if err != nil || len(events) != 1 {
			t.Errorf("%s: %d events (%v), want the winning run's alone", tc.name, len(events), err)
		}
		if sess, _, err := s.SessionWithUser(ctx, sid); err != nil || !sess.RevokedAt.IsZero() {
			t.Errorf("%s: session ended at %v (%v): a losing run's write was made", tc.name, sess.RevokedAt, err)
		}
	}
}

// A change that the database ran but whose answer was lost with its
// connection is not made twice: database/sql runs the statement again on
// another connection, and the statement finds its receipt.
func TestPostgresChangeWhoseAnswerIsLostIsMadeOnce(t *testing.T) {
	t.Parallel()
	dbURL, err := url.Parse(sqlstoretest.NewPostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	openMigrated(t, dbURL.String())
	dbURL.Host = dropFirstAnswer(t, dbURL.Host, []byte("TRIPWIRE"))
	s := openMigrated(t, dbURL.String())
	ctx := t.Context()
	u := mustCreate(t, s)
	runs := 0
	err = s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		runs++
		name := cur.State().Profile.FirstName + "x"
		cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, TargetID: cur.ID(), At: time.Now(), Detail: "TRIPWIRE"})
		return cur.UpdateProfile(domain.ProfilePatch{FirstName: &name}, time.Now())
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, err := s.UserByID(ctx, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.ListEvents(ctx, ports.AuditFilter{Type: domain.EventLoginSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	if got.State().Profile.FirstName != "x" || len(events) != 1 {
		t.Errorf("first name %q, %d events (the change ran %d times); want it made once: %q, 1",
			got.State().Profile.FirstName, len(events), runs, "x")
	}
}

// dropFirstAnswer is a TCP proxy to target that, the first time a client
// sends marker, passes it on but drops the server's answer and closes the
// client's connection, as a network cut or a proxy restart after the
// server committed would. It returns its address.
func dropFirstAnswer(t *testing.T, target string, marker []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var tripped atomic.Bool
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			var drop atomic.Bool
			var once sync.Once
			closeBoth := func() { once.Do(func() { _ = client.Close(); _ = server.Close() }) }
			// relay copies src to dst until either ends or cut says so.
			relay := func(dst, src net.Conn, cut func(b []byte) bool) {
				defer closeBoth()
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if cut(buf[:n]) {
							return
						}
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			go relay(server, client, func(b []byte) bool {
				if bytes.Contains(b, marker) && tripped.CompareAndSwap(false, true) {
					drop.Store(true)
				}
				return false
			})
			go relay(client, server, func([]byte) bool {
				if drop.Load() {
					// Let the server finish (and commit), then cut.
					time.Sleep(50 * time.Millisecond)
					return true
				}
				return false
			})
		}
	}()
	return l.Addr().String()
}

// A change decided on a row kept from an earlier write, which may be
// stale, is not trusted when it fails or writes nothing: only a write
// checks the version. It runs again on a read.
func TestPostgresChangeRefusedOnAKeptRowIsRunAgain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := sqlstoretest.NewPostgresURL(t)
	mine, other := openMigrated(t, dbURL), openMigrated(t, dbURL)
	u := mustCreate(t, mine)
	if err := mine.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		return cur.UpdateProfile(domain.ProfilePatch{Bio: ptr("kept")}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if err := other.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.SetRole(domain.RoleManager, time.Now())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	errNotManager := errors.New("not a MANAGER")
	for _, tc := range []struct {
		name   string
		change func(cur *domain.User) error
	}{
		{"refused", func(cur *domain.User) error {
			if cur.Role() != domain.RoleManager {
				return errNotManager
			}
			return nil
		}},
		{"nothing to write", func(*domain.User) error { return nil }},
	} {
		var seen []domain.Role
		if err := mine.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			seen = append(seen, cur.Role())
			return tc.change(cur)
		}); err != nil {
			t.Errorf("%s: UpdateUser = %v, want nil (decided on the row as it is)", tc.name, err)
		}
		if seen[len(seen)-1] != domain.RoleManager {
			t.Errorf("%s: the change last saw role %v, want MANAGER (read, not kept)", tc.name, seen[len(seen)-1])
		}
	}
}

// A change may start from the row this store wrote last instead of
// reading it: when another instance (another store on the database) has
// changed the user since, the write finds a new version and the change
// runs again on a fresh read: the other's change stays.
func TestPostgresChangeAfterAnotherInstanceKeepsItsChange(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := sqlstoretest.NewPostgresURL(t)
	mine, other := openMigrated(t, dbURL), openMigrated(t, dbURL)
	u := mustCreate(t, mine)
	login := func(cur *domain.User) error {
		cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, TargetID: cur.ID(), At: time.Now()})
		return cur.UpdateProfile(domain.ProfilePatch{Bio: ptr("mine " + time.Now().String())}, time.Now())
	}
	if err := mine.UpdateUser(ctx, u.ID(), login); err != nil {
		t.Fatal(err)
	}
	if err := other.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		return cur.UpdateProfile(domain.ProfilePatch{FirstName: ptr("Other")}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	if err := mine.UpdateUserByEmail(ctx, u.Email(), func(cur *domain.User) error {
		runs++
		cur.SetRole(domain.RoleManager, time.Now())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := other.UserByID(ctx, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Role() != domain.RoleManager || got.State().Profile.FirstName != "Other" {
		t.Errorf("role %v, first name %q; want MANAGER and the other instance's %q", got.Role(), got.State().Profile.FirstName, "Other")
	}
	if runs != 2 {
		t.Errorf("the change ran %d times, want 2 (on the row kept, then on a fresh read)", runs)
	}
}

func ptr(s string) *string { return &s }
