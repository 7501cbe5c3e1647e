package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/usersvc/usersvc/domain"
)

// An account change on PostgreSQL is, when it can be, two statements and
// no transaction: the user is read with its row version (xmin, the
// transaction that wrote the row), the change runs, and one statement
// writes the user and everything the change recorded, only if the row is
// still that version. A statement is a transaction of its own, so the
// change is as atomic as under a lock; what it saves is the round trips
// of BEGIN, COMMIT and one per row written, and no row lock is held while
// Go runs. The statement returns the row it wrote, which the next change
// of the user starts from (recentRows) instead of reading it again: a
// login, 12 round trips before, is the admission's read and write and the
// decision's write, 3.
//
// The statement is built from the same INSERT and UPDATE statements a
// locked change runs, each as a data-modifying WITH query that writes
// only if the gate, the user's own write, found the row unchanged:
//
//	WITH gate AS (UPDATE users SET … WHERE id = $45 AND xmin = $46::xid RETURNING …, xmin),
//	     w1 AS (INSERT INTO audit_log (…) SELECT $47, … FROM gate),
//	     w2 AS (UPDATE sessions SET … WHERE EXISTS (SELECT FROM gate) AND (…)),
//	     receipt AS (INSERT INTO change_receipts (id) SELECT $57 FROM gate)
//	SELECT gate.* FROM gate
//	UNION ALL SELECT …, xmin FROM users WHERE id = $58 AND EXISTS (SELECT FROM change_receipts WHERE id = $59)
//
// No row back means another change came first: the change is read and
// run again (at most optimisticAttempts times, then under the lock). The
// statement also writes a receipt (migration 00012) and answers the user
// when it finds its receipt already there: database/sql runs a statement
// again on another connection when the first one failed, even if the
// server had run it, and the second run must not take the first's effect
// for another change's.

// optimisticAttempts is how many times update tries a change in one
// statement before taking the row's lock: contention on one user is rare,
// and under the lock a change always succeeds.
const optimisticAttempts = 3

var (
	// errChangedMeanwhile: the user changed between the read and the write.
	errChangedMeanwhile = errors.New("sqlstore: the user changed meanwhile")
	// errNeedsLock: the change must be made in a transaction.
	errNeedsLock = errors.New("sqlstore: the change needs a transaction")
)

// oneStatementChanges reports whether changes can be written as one
// statement (PostgreSQL's data-modifying WITH queries; SQLite has none,
// and no round trips to save).
func (s *Store) oneStatementChanges() bool {
	_, ok := s.d.(postgres)
	return ok
}

// selectVersionedUser reads a user with its row version.
var selectVersionedUser = "SELECT " + versionedColumns + " FROM users"

// versionedUserRow is a user's row and its version.
type versionedUserRow struct {
	userRow
	Version string `db:"row_version"`
}

// updateInOneStatement is update without a transaction (see above). It
// fails with errChangedMeanwhile when the user changed after it was read,
// and with errNeedsLock, having written nothing, when the change must be
// made under the lock: it owes webhook events (their fan-out reads the
// endpoints in the transaction), or it opens a session and ends sessions
// (the parts of one statement do not see each other's rows). With recent,
// the user may come from the rows this store wrote lately rather than from
// a read; a change that fails or writes nothing is then run again on a
// read, since only a write checks the version.
func (s *Store) updateInOneStatement(ctx context.Context, key, value string, recent bool, fn func(u *domain.User) error) error {
	r, kept := versionedUserRow{}, false
	if recent {
		r, kept = s.recent.get(key, value)
	}
	if !kept {
		if err := s.getPrepared(ctx, &r, s.q(selectVersionedUser+" WHERE "+key+" = ?"), value); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return domain.ErrUserNotFound
			}
			return s.wrap("update user", err)
		}
	}
	u, err := r.user()
	if err != nil {
		return err
	}
	before := u.State()
	err = fn(u)
	id, rec, st := before.ID, takeRecorded(u), u.State()
	nothing := st == before && len(rec.msgs)+len(rec.events)+len(rec.sessions)+len(rec.hooks) == 0
	switch {
	case kept && (err != nil || nothing):
		return errChangedMeanwhile // decided on a row kept, not read: read it
	case err != nil:
		return err
	case nothing:
		return nil
	case len(rec.hooks) > 0, opensSessions(rec.sessions) && endsSessions(rec.sessions):
		return errNeedsLock
	}
	w := &gatedWriter{}
	if st != before || opensSessions(rec.sessions) {
		// A change that opens a session writes the row even when it
		// changes nothing else, so that a change ending the user's
		// sessions, whose statement cannot see a session opened after it
		// began, finds a new version and runs again.
		w.gate = updateUser + " AND xmin = ?::xid RETURNING " + versionedColumns
		w.args = append(s.values(id, st)[1:], id, r.Version)
	} else {
		// The records must agree with the user as fn saw it: the row is
		// locked until the statement ends (one change of a user at a
		// time, as under the lock), and must be that version.
		w.gate = "SELECT " + versionedColumns + " FROM users WHERE id = ? AND xmin = ?::xid FOR NO KEY UPDATE"
		w.args = []any{id, r.Version}
	}
	if err := s.saveRows(ctx, w, "update user", id, rec, st.UpdatedAt); err != nil {
		return err // errNeedsLock among them: update tells it by errors.Is
	}
	receipt := rand.Text()
	w.parts = append(w.parts, "receipt AS (INSERT INTO change_receipts (id) SELECT ? FROM gate)")
	w.args = append(w.args, receipt)
	result := "SELECT gate.* FROM gate"
	if !domain.OnlyLoginBookkeeping(before, st) || endsSessions(rec.sessions) {
		// A volatile function's WITH query is run once, and only here
		// with the gate's row.
		w.parts = append(w.parts, "notify AS (SELECT pg_notify('"+changesChannel+"', ?) FROM gate)")
		w.args = append(w.args, id+" "+s.instance)
		result = "SELECT gate.* FROM gate, notify"
	}
	// Run a second time (see change_receipts), the statement finds its
	// receipt and answers the user as it is.
	result += " UNION ALL SELECT " + versionedColumns + " FROM users" +
		" WHERE id = ? AND EXISTS (SELECT FROM change_receipts WHERE id = ?)"
	w.args = append(w.args, id, receipt)
	var written versionedUserRow
	err = s.getPrepared(ctx, &written, s.q(w.statement(result)), w.args...)
	if err != nil {
		s.recent.forget(id, before.Email)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows), err != nil && s.d.retryable(err):
		return errChangedMeanwhile
	case err != nil:
		if _, ok := s.d.uniqueViolation(err); ok {
			return s.writeError(ctx, nil, "update user", err, id, st)
		}
		return s.wrap("update user", err)
	}
	s.recent.put(written)
	return nil
}

// opensSessions reports whether changes open a session.
func opensSessions(changes []domain.SessionChange) bool {
	for _, c := range changes {
		if c.Kind == domain.OpenSession {
			return true
		}
	}
	return false
}

// versionedColumns are what a change's statement returns of the row it
// wrote: the row as a read would give it, and its new version.
var versionedColumns = strings.Join(userColumns, ", ") + ", xmin::text AS row_version"

// recentRows are the rows this store wrote last, with their versions, by
// id and by email: the next change of the same user (a login's decision
// after its admission, the next login of a busy account) can start from
// one without reading it. The write is gated on the version anyway, so an
// entry that another change made stale costs a lost race, never a lost
// update; entries are forgotten after recentTTL all the same, and all of
// them once there are recentMax.
type recentRows struct {
	mu   sync.Mutex
	rows map[string]recentRow // "id " + id or "email " + email
}

type recentRow struct {
	row versionedUserRow
	at  time.Time
}

const (
	recentTTL = 10 * time.Second
	recentMax = 4096
)

func (c *recentRows) get(key, value string) (versionedUserRow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rows[key+" "+value]
	if !ok || time.Since(e.at) > recentTTL {
		return versionedUserRow{}, false
	}
	return e.row, true
}

func (c *recentRows) put(r versionedUserRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil || len(c.rows) >= recentMax {
		c.rows = make(map[string]recentRow)
	}
	e := recentRow{row: r, at: time.Now()}
	c.rows["id "+r.ID] = e
	c.rows["email "+r.Email] = e
}

// forget drops what is kept of user id, under its id and under emails.
func (c *recentRows) forget(id string, emails ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rows, "id "+id)
	for _, e := range emails {
		delete(c.rows, "email "+e)
	}
}

// rowWriter runs the statements that save what a change recorded: each at
// once, in the change's transaction (txWriter), or gathered into the one
// statement of a change made without one (gatedWriter).
type rowWriter interface {
	// write runs query, with ? placeholders: an INSERT of one row
	// (INSERT INTO t (…) VALUES (…)) or an UPDATE … WHERE ….
	write(ctx context.Context, query string, args ...any) error
}

// inTx is a rowWriter that runs its statements in tx.
func (s *Store) inTx(tx *sqlx.Tx) rowWriter { return txWriter{s: s, tx: tx} }

type txWriter struct {
	s  *Store
	tx *sqlx.Tx
}

func (w txWriter) write(ctx context.Context, query string, args ...any) error {
	_, err := w.s.execTx(ctx, w.tx, w.s.q(query), args...)
	return err
}

// gatedWriter gathers a change's statements, each made to write only
// when the gate does.
type gatedWriter struct {
	gate  string // the user's write, or lock, returning a row when it is unchanged
	parts []string
	args  []any
}

func (w *gatedWriter) write(_ context.Context, query string, args ...any) error {
	g, err := gated(query)
	if err != nil {
		return fmt.Errorf("%w: %w", errNeedsLock, err)
	}
	w.parts = append(w.parts, fmt.Sprintf("w%d AS (%s)", len(w.parts)+1, g))
	w.args = append(w.args, args...)
	return nil
}

// statement is the change's one statement, answering with result, a
// query of the gate.
func (w *gatedWriter) statement(result string) string {
	var b strings.Builder
	b.WriteString("WITH gate AS (" + w.gate + ")")
	for _, p := range w.parts {
		b.WriteString(", " + p)
	}
	b.WriteString(" " + result)
	return b.String()
}

// gated rewrites an INSERT of one row or an UPDATE to write only if the
// gate returned a row. Its parameters keep their order, and an INSERT's
// values their types: PostgreSQL types the parameters of INSERT … SELECT
// by the columns they go to, as it does those of VALUES.
func gated(query string) (string, error) {
	switch {
	case strings.HasPrefix(query, "INSERT INTO "):
		into, values, ok := strings.Cut(query, " VALUES (")
		if ok && strings.HasSuffix(values, ")") && !strings.Contains(values, "(") {
			return into + " SELECT " + strings.TrimSuffix(values, ")") + " FROM gate", nil
		}
	case strings.HasPrefix(query, "UPDATE "):
		if update, where, ok := strings.Cut(query, " WHERE "); ok {
			return update + " WHERE EXISTS (SELECT FROM gate) AND (" + where + ")", nil
		}
	}
	return "", fmt.Errorf("sqlstore: %q cannot be a part of a change's one statement", query)
}
