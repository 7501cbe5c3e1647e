package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationLockID is the advisory lock held while migrating, so instances
// that start together apply migrations one at a time ("usersvc" in ASCII).
const migrationLockID = 0x7573657273766300

// Pool limits for PostgreSQL: enough for bursts of concurrent requests
// without exhausting a default server's 100 connections with a few replicas.
// Every connection may stay idle: under a steady load one closed on its
// return is reopened a moment later, a process forked on the server and the
// prepared statements planned again (measured: one connection per 17 logins
// with 10 idle at 16 concurrent logins). Idle ones still close after
// pgConnMaxIdleTime.
const (
	pgMaxOpenConns    = 20
	pgMaxIdleConns    = pgMaxOpenConns
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
)

// lockTimeout bounds how long a statement waits for a row lock.
const lockTimeout = 3 * time.Second

type postgres struct {
	where string // host:port/dbname
	dsn   string // for the change listener's connection of its own
}

func openPostgres(databaseURL string, wrap func(driver.Connector) driver.Connector) (*Store, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("sqlstore: malformed PostgreSQL URL: %v", err) //nolint:errorlint // a wrapped cause could be printed with the URL
	}
	// A dial that never answers (a host gone from the network) must fail
	// fast enough for requests to answer 503 while the database is away.
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
	}
	// A row held by a stalled transaction (another session, a migration)
	// must not park our requests, and their connections, for as long as
	// it lasts: after lockTimeout they give up (503, Retry-After) and the
	// pool serves the rest. An operator's own options win.
	if q.Get("options") == "" {
		q.Set("options", "-c lock_timeout="+strconv.Itoa(int(lockTimeout/time.Millisecond)))
	}
	u.RawQuery = q.Encode()
	databaseURL = u.String()
	c, err := pq.NewConnector(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: malformed PostgreSQL URL: %v", oneLine(err)) //nolint:errorlint // as above
	}
	db := sqlx.NewDb(sql.OpenDB(wrap(c)), "postgres")
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxIdleConns)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	return &Store{db: db, d: postgres{where: u.Host + u.Path, dsn: databaseURL}}, nil
}

func (postgres) bindType() int { return sqlx.DOLLAR }

func (postgres) forUpdate() string { return " FOR UPDATE" }

// skipLocked lets concurrent claimers each take different rows instead of
// queueing behind one another.
func (postgres) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }

// byteOrder uses the "C" collation, which every server has; the search
// indexes of migration 00005 are built with it. A linguistic collation
// (en_US…) would neither match SQLite's order nor make a prefix a range.
func (postgres) byteOrder() string { return ` COLLATE "C"` }

// timeValue truncates to the microseconds timestamptz keeps; PostgreSQL
// would round instead, and a rounded time may lie in the future.
func (postgres) timeValue(t time.Time) any { return t.UTC().Truncate(time.Microsecond) }

func (postgres) utcDate(col string) string {
	return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
}

func (postgres) uniqueViolation(err error) (string, bool) {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == pqerror.UniqueViolation {
		return pe.Constraint, true
	}
	return "", false
}

func (postgres) foreignKeyViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == pqerror.ForeignKeyViolation
}

// notifyUserChanged sends the id on the changes channel; PostgreSQL
// delivers it to every listener when the transaction commits, and never if
// it rolls back.
func (postgres) notifyUserChanged(ctx context.Context, tx *sqlx.Tx, payload string) error {
	_, err := tx.ExecContext(ctx, notifyChange, payload)
	return err
}

// notifyChange is the statement of notifyUserChanged.
const notifyChange = "SELECT pg_notify('" + changesChannel + "', $1)"

// checkConn has nothing to check: foreign keys are always enforced.
func (postgres) checkConn(context.Context, *sqlx.DB) error { return nil }

func (postgres) retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == pqerror.TRDeadlockDetected || pe.Code == pqerror.TRSerializationFailure)
}

func (postgres) unavailable(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code.Class() {
		case "08", "53", "57", "40": // connection, resources, operator intervention, rollback
			return pe.Code != "57014" // query_canceled: the caller's own context
		}
		switch pe.Code {
		case "55P03", // lock_not_available: lock_timeout passed behind a stalled transaction
			"55000",          // the database is not accepting connections (ALLOW_CONNECTIONS false)
			"3D000",          // the database is gone
			"28000", "28P01": // the server refuses our credentials
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn)
}

func (p postgres) describe() string { return "PostgreSQL at " + p.where }

func (postgres) migrations() (goose.Dialect, string, []goose.ProviderOption, error) {
	// A locker holds retry state, so each provider gets a new one. Retry
	// every second for up to five minutes while another instance migrates.
	l, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return "", "", nil, err
	}
	return goose.DialectPostgres, "postgres", []goose.ProviderOption{goose.WithSessionLocker(l)}, nil
}
