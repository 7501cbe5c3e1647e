package sqlstore_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

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
	for name, dbs := range rawDatabases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dbURL, raw := dbs(t)
			s := openMigrated(t, dbURL)
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
}

// On PostgreSQL a change is written without a lock, only if the user is
// still as it was read: a change that loses the race to another runs
// again on the user as the other left it, so neither is lost, and what
// it recorded is saved once. After optimisticAttempts lost races it runs
// under the row's lock, where it cannot lose.
func TestPostgresChangeThatLosesARaceRunsAgain(t *testing.T) {
	t.Parallel()
	newStore := emptyPostgres(t)
	for _, losses := range []int{1, 3} {
		s := newStore(t)
		ctx := t.Context()
		u := mustCreate(t, s)
		runs := 0
		err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			runs++
			if runs <= losses {
				// Another change of the user, between this one's read and its
				// write (under the lock, this would wait for ever: it must
				// not happen there).
				name := "Other" + string(rune('0'+runs))
				if err := s.UpdateUser(ctx, cur.ID(), func(o *domain.User) error {
					return o.UpdateProfile(domain.ProfilePatch{FirstName: &name}, time.Now())
				}); err != nil {
					return err
				}
			}
			cur.SetRole(domain.RoleManager, time.Now())
			// An event that owes no webhook event (those are saved under the lock).
			cur.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, TargetID: cur.ID(), At: time.Now()})
			return nil
		})
		if err != nil {
			t.Fatalf("%d lost races: UpdateUser: %v", losses, err)
		}
		if runs != losses+1 {
			t.Errorf("%d lost races: the change ran %d times, want %d", losses, runs, losses+1)
		}
		got, err := s.UserByID(ctx, u.ID())
		if err != nil {
			t.Fatal(err)
		}
		if want := "Other" + string(rune('0'+losses)); got.Role() != domain.RoleManager || got.State().Profile.FirstName != want {
			t.Errorf("%d lost races: role %v, first name %q; want MANAGER and %q", losses, got.Role(), got.State().Profile.FirstName, want)
		}
		events, err := s.ListEvents(ctx, ports.AuditFilter{Type: domain.EventLoginSucceeded})
		if err != nil || len(events) != 1 {
			t.Errorf("%d lost races: %d events (%v), want 1", losses, len(events), err)
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
