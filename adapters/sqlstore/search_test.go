package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/porttest"
)

// TestPostgresUserSearchLinguisticCollation runs the search contract with email and
// nickname in a linguistic collation (ICU's en-US), as on a database created
// with one: sorts and prefix searches must still go by code point, as they
// do on SQLite and in memory, and keep their indexes.
func TestPostgresUserSearchLinguisticCollation(t *testing.T) {
	t.Parallel()
	dbURL := sqlstoretest.NewPostgresURL(t)
	openMigrated(t, dbURL)
	raw := rawPostgres(t, dbURL)
	var coll string
	err := raw.QueryRowContext(t.Context(), `SELECT collname FROM pg_collation
		WHERE collname IN ('en-US-x-icu', 'en_US.utf8') ORDER BY collname LIMIT 1`).Scan(&coll)
	if err != nil {
		t.Fatalf("this server has no en-US collation (ICU or glibc) to test a linguistic order with: %v", err)
	}
	alter := `ALTER TABLE users ALTER COLUMN email TYPE text COLLATE "` + coll + `", ALTER COLUMN nickname TYPE text COLLATE "` + coll + `"`
	if _, err := raw.ExecContext(t.Context(), alter); err != nil {
		t.Fatalf("%s: %v", alter, err)
	}
	porttest.UserSearch(t, func(t *testing.T) ports.UserStore {
		emptyTables(t, raw, "users, outbox, sessions, refresh_tokens, audit_log, change_receipts")
		return openMigrated(t, dbURL)
	})
}

// seedPostgresUsers inserts n valid users in one statement, then VACUUMs and
// ANALYZEs.
// Emails start with 6 random hex digits; nicknames are adjective_animal_i
// in mixed case (64 combinations); creation times come in threes, so the
// order by created_at needs the id; 1% are MANAGERs, one in 10,000 ADMIN,
// one in 10 ANONYMOUS (unverified), one in 7 professional, one in 97 locked.
func seedPostgresUsers(tb testing.TB, db *sql.DB, n int) {
	tb.Helper()
	const seed = `
INSERT INTO users (id, email, nickname, password_hash, role, is_professional, email_verified,
                   is_locked, lock_reason, locked_at, created_at, updated_at)
SELECT md5('user' || i)::uuid,
       substr(md5(i::text), 1, 6) || '.' || i || '@example.com',
       (ARRAY['Brave','Calm','Eager','Fancy','Gentle','Happy','Jolly','Kind'])[1 + i % 8] || '_' ||
       (ARRAY['otter','panda','koala','lynx','heron','bison','raven','gecko'])[1 + (i / 8) % 8] || '_' || i,
       '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
       CASE WHEN i % 10000 = 1 THEN 'ADMIN' WHEN i % 100 = 0 THEN 'MANAGER'
            WHEN i % 10 = 2 THEN 'ANONYMOUS' ELSE 'AUTHENTICATED' END,
       i % 7 = 0,
       i % 10 <> 2,
       i % 97 = 0,
       CASE WHEN i % 97 = 0 THEN 'failed_logins' END,
       CASE WHEN i % 97 = 0 THEN c.t END,
       c.t, c.t
FROM generate_series(1, $1::int) AS i,
     LATERAL (SELECT timestamptz '2020-01-01 00:00:00+00' + (i / 3) * interval '1 second' AS t) AS c`
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, seed, n); err != nil {
		tb.Fatalf("seed %d users: %v", n, err)
	}
	// Rows inserted behind the store's back: the kept count follows.
	if _, err := db.ExecContext(ctx, "UPDATE user_count SET n = (SELECT count(*) FROM users)"); err != nil {
		tb.Fatalf("count the seeded users: %v", err)
	}
	// What autovacuum would soon do to such a table: statistics for the
	// planner, and the visibility map that lets a count read an index only.
	if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) users"); err != nil {
		tb.Fatalf("VACUUM (ANALYZE): %v", err)
	}
}

// positionAt is the position (for a keyset page) of the user at offset in
// the order by created_at.
func positionAt(tb testing.TB, db *sql.DB, offset int) ports.UserCursor {
	tb.Helper()
	var c ports.UserCursor
	err := db.QueryRowContext(context.Background(), "SELECT id, created_at FROM users ORDER BY created_at, id OFFSET $1 LIMIT 1", offset).
		Scan(&c.ID, &c.CreatedAt)
	if err != nil {
		tb.Fatalf("user at %d: %v", offset, err)
	}
	return c
}

// searchShape is a kind of query GET /users/ makes, and the index that
// must serve it ("" when the planner may pick among several). SQLite reads
// the unique users_email_key for the order by email, the one index it has
// on that key.
type searchShape struct {
	name  string
	q     ports.UserQuery
	index string
}

// sqliteIndex is the index SQLite must use where PostgreSQL uses index.
func sqliteIndex(index string) string {
	if index == "users_email_sort_idx" {
		return "users_email_key"
	}
	return index
}

// searchShapes are the queries whose plans are checked, as the app asks
// them (one more than the page). mid is a position in created_at order;
// the email and nickname positions are made up, as any may be.
func searchShapes(mid ports.UserCursor) []searchShape {
	yes := true
	at := func(text string) *ports.UserCursor {
		return &ports.UserCursor{Text: text, ID: "80000000-0000-4000-8000-000000000000"}
	}
	byEmail := ports.UserSort{By: ports.SortByEmail}
	byNick := ports.UserSort{By: ports.SortByNickname}
	return []searchShape{
		{"first page by created_at", ports.UserQuery{Limit: 11}, "users_created_at_id_idx"},
		{"first page by -created_at", ports.UserQuery{Sort: ports.UserSort{Desc: true}, Limit: 11}, "users_created_at_id_idx"},
		{"keyset page by created_at", ports.UserQuery{After: &mid, Limit: 11}, "users_created_at_id_idx"},
		{"keyset page by -created_at", ports.UserQuery{Sort: ports.UserSort{Desc: true}, After: &mid, Limit: 11}, "users_created_at_id_idx"},
		{"keyset page by email", ports.UserQuery{Sort: byEmail, After: at("8"), Limit: 11}, "users_email_sort_idx"},
		{"keyset page by -email", ports.UserQuery{Sort: ports.UserSort{By: ports.SortByEmail, Desc: true}, After: at("8"), Limit: 11}, "users_email_sort_idx"},
		{"keyset page by nickname", ports.UserQuery{Sort: byNick, After: at("gentle"), Limit: 11}, "users_nickname_sort_idx"},
		{"keyset page by -nickname", ports.UserQuery{Sort: ports.UserSort{By: ports.SortByNickname, Desc: true}, After: at("gentle"), Limit: 11}, "users_nickname_sort_idx"},
		{"prefix (email) by created_at", ports.UserQuery{Prefix: "ab", Limit: 11}, ""},
		{"prefix (nickname) by created_at", ports.UserQuery{Prefix: "brave_ot", Limit: 11}, ""},
		{"prefix by email", ports.UserQuery{Prefix: "ab", Sort: byEmail, Limit: 11}, ""},
		{"prefix, keyset page by nickname", ports.UserQuery{Prefix: "kind_", Sort: byNick, After: at("kind_lynx"), Limit: 11}, ""},
		{"role by email", ports.UserQuery{Role: domain.RoleManager, Sort: byEmail, Limit: 11}, "users_email_sort_idx"},
		{"role, keyset page by email", ports.UserQuery{Role: domain.RoleManager, Sort: byEmail, After: at("8"), Limit: 11}, "users_email_sort_idx"},
		{"flags by created_at", ports.UserQuery{IsProfessional: &yes, IsLocked: &yes, Limit: 11}, ""},
	}
}

// TestPostgresSearchPlans EXPLAINs each kind of search on 20,000 users
// (run with -v to read the plans): keyset pages and prefix searches must
// read an index, never the whole table.
func TestPostgresSearchPlans(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := sqlstoretest.NewPostgresURL(t)
	s := openMigrated(t, dbURL)
	raw := rawPostgres(t, dbURL)
	seedPostgresUsers(t, raw, 20000)
	for _, sh := range searchShapes(positionAt(t, raw, 10000)) {
		query, args, err := s.UserListSQL(sh.q)
		if err != nil {
			t.Fatalf("%s: %v", sh.name, err)
		}
		plan := explain(t, raw, "EXPLAIN "+query, args...)
		t.Logf("%s:\n%s", sh.name, plan)
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: reads the whole table:\n%s", sh.name, plan)
		}
		if !strings.Contains(plan, "Index") {
			t.Errorf("%s: uses no index:\n%s", sh.name, plan)
		}
		if sh.index != "" && !strings.Contains(plan, sh.index) {
			t.Errorf("%s: does not use %s:\n%s", sh.name, sh.index, plan)
		}
		if sh.q.Prefix == "" && strings.Contains(plan, "Sort") {
			t.Errorf("%s: sorts instead of reading an index in order:\n%s", sh.name, plan)
		}
		// And the query runs.
		if _, _, err := s.ListUsers(ctx, sh.q); err != nil {
			t.Errorf("%s: ListUsers: %v", sh.name, err)
		}
	}
}

// TestSQLiteSearchPlans checks that SQLite reads the search indexes too.
func TestSQLiteSearchPlans(t *testing.T) {
	t.Parallel()
	path := sqliteURL(t)
	s := openMigrated(t, path)
	raw := rawSQLite(t, strings.TrimPrefix(path, "sqlite:"))
	mid := ports.UserCursor{CreatedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ID: "80000000-0000-4000-8000-000000000000"}
	for _, sh := range searchShapes(mid) {
		query, args, err := s.UserListSQL(sh.q)
		if err != nil {
			t.Fatalf("%s: %v", sh.name, err)
		}
		plan := explain(t, raw, "EXPLAIN QUERY PLAN "+query, args...)
		t.Logf("%s:\n%s", sh.name, plan)
		for _, line := range strings.Split(plan, "\n") {
			if strings.TrimSpace(line) == "SCAN users" {
				t.Errorf("%s: reads the whole table:\n%s", sh.name, plan)
			}
		}
		if index := sqliteIndex(sh.index); index != "" && !strings.Contains(plan, index) {
			t.Errorf("%s: does not use %s:\n%s", sh.name, index, plan)
		}
		if sh.q.Prefix == "" && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: sorts instead of reading an index in order:\n%s", sh.name, plan)
		}
	}
}

// explain runs an EXPLAIN statement and returns its text: PostgreSQL's one
// column, or the detail column of SQLite's query plan.
func explain(tb testing.TB, db *sql.DB, query string, args ...any) string {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		tb.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			tb.Fatal(err)
		}
		switch v := (*vals[len(vals)-1].(*any)).(type) {
		case string:
			lines = append(lines, v)
		case []byte:
			lines = append(lines, string(v))
		}
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// BenchmarkSearchMillionUsers times the searches of GET /users/ on
// 1,000,000 users in PostgreSQL, through the store: keyset pages cost the
// same at any depth, where an offset page reads every row it skips. The
// seeding (one INSERT … SELECT, about a minute) is done before timing.
//
//	go test -run '^$' -bench SearchMillionUsers ./adapters/sqlstore/
func BenchmarkSearchMillionUsers(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	dbURL := sqlstoretest.NewPostgresURL(b)
	s := openMigrated(b, dbURL)
	raw := rawPostgres(b, dbURL)
	start := time.Now()
	seedPostgresUsers(b, raw, n)
	b.Logf("seeded and analyzed %d users in %v", n, time.Since(start).Round(time.Second))
	mid := positionAt(b, raw, n/2)
	yes := true
	for _, bc := range []struct {
		name string
		q    ports.UserQuery
	}{
		{"keyset/first page by created_at", ports.UserQuery{Limit: 11}},
		{"keyset/page at 500000 by created_at", ports.UserQuery{After: &mid, Limit: 11}},
		{"keyset/prefix ab (email) by created_at", ports.UserQuery{Prefix: "ab", Limit: 11}},
		{"keyset/prefix brave_ot (nickname) by created_at", ports.UserQuery{Prefix: "brave_ot", Limit: 11}},
		{"keyset/prefix abc by email", ports.UserQuery{Prefix: "abc", Sort: ports.UserSort{By: ports.SortByEmail}, Limit: 11}},
		{"keyset/role MANAGER by email", ports.UserQuery{Role: domain.RoleManager, Sort: ports.UserSort{By: ports.SortByEmail}, Limit: 11}},
		// Prefixes at the far end of the sort order from where the scan starts.
		{"keyset/prefix 0 by -email", ports.UserQuery{Prefix: "0", Sort: ports.UserSort{By: ports.SortByEmail, Desc: true}, Limit: 11}},
		{"keyset/prefix brave_ by -nickname", ports.UserQuery{Prefix: "brave_", Sort: ports.UserSort{By: ports.SortByNickname, Desc: true}, Limit: 11}},
		{"keyset/prefix jolly by nickname", ports.UserQuery{Prefix: "jolly", Sort: ports.UserSort{By: ports.SortByNickname}, Limit: 11}},
		{"keyset/role MANAGER by email, page at 8", ports.UserQuery{
			Role: domain.RoleManager, Sort: ports.UserSort{By: ports.SortByEmail}, Limit: 11,
			After: &ports.UserCursor{Text: "8", ID: "80000000-0000-4000-8000-000000000000"},
		}},
		// Filters no index serves together, and few users pass: the worst case.
		{"keyset/locked MANAGERs by created_at", ports.UserQuery{Role: domain.RoleManager, IsLocked: &yes, Limit: 11}},
		{"offset/first page (with count)", ports.UserQuery{Limit: 10, WithTotal: true}},
		{"offset/skip 900000 (with count)", ports.UserQuery{Offset: 900_000, Limit: 10, WithTotal: true}},
		{"offset/skip 900000 (rows only)", ports.UserQuery{Offset: 900_000, Limit: 10}},
		{"offset/role MANAGER by email, first page (with count)", ports.UserQuery{
			Role: domain.RoleManager, Sort: ports.UserSort{By: ports.SortByEmail}, Limit: 10, WithTotal: true,
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				users, _, err := s.ListUsers(ctx, bc.q)
				if err != nil || len(users) == 0 {
					b.Fatalf("ListUsers: %d users, %v", len(users), err)
				}
			}
		})
	}
}
