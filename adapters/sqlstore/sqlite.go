package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteParams are added to every SQLite DSN. BEGIN IMMEDIATE takes the write
// lock when a transaction starts, so a read-modify-write never has to be
// upgraded (and fail with SQLITE_BUSY) halfway; busy_timeout makes other
// processes on the same file wait rather than fail.
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// sqliteTimeLayout is fixed-width, so text order is time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

type sqliteDialect struct {
	where string
}

// openSQLite accepts sqlite:PATH, sqlite:///ABSOLUTE/PATH, sqlite::memory:
// and sqlite:file:URI (passed to SQLite as it is).
func openSQLite(databaseURL string, wrap func(driver.Connector) driver.Connector) (*Store, error) {
	_, rest, _ := strings.Cut(databaseURL, ":")
	rest = strings.TrimPrefix(rest, "//")
	var dsn, where string
	switch {
	case rest == "":
		return nil, errors.New("sqlstore: malformed SQLite URL: no file named: want sqlite:PATH")
	case rest == ":memory:":
		dsn, where = "file::memory:?"+sqliteParams, "memory"
	case strings.HasPrefix(rest, "file:"):
		sep := "?"
		if strings.Contains(rest, "?") {
			sep = "&"
		}
		dsn, where = rest+sep+sqliteParams, rest
		if i := strings.IndexByte(where, '?'); i >= 0 {
			where = where[:i]
		}
	default:
		if err := os.MkdirAll(filepath.Dir(rest), 0o750); err != nil {
			return nil, fmt.Errorf("sqlstore: create directory for SQLite database: %w", err)
		}
		esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(rest)
		dsn, where = "file:"+esc+"?"+sqliteParams, rest
	}
	db := sqlx.NewDb(sql.OpenDB(wrap(dsnConnector{dsn: dsn})), "sqlite")
	// One connection: SQLite has a single writer anyway, so this queues
	// writers in Go instead of failing them with SQLITE_BUSY, and keeps an
	// in-memory database alive and shared. It never expires for that reason.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &Store{db: db, d: sqliteDialect{where: where}}, nil
}

// dsnConnector opens SQLite connections, as sql.Open("sqlite", dsn) would.
type dsnConnector struct{ dsn string }

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.Driver().Open(c.dsn) }

func (dsnConnector) Driver() driver.Driver { return &sqlite.Driver{} }

func (sqliteDialect) bindType() int { return sqlx.QUESTION }

// notifyUserChanged does nothing: SQLite has no notifications (see
// WatchUserChanges).
func (sqliteDialect) notifyUserChanged(context.Context, *sqlx.Tx, string) error { return nil }

// forUpdate is empty: every transaction already holds the write lock.
func (sqliteDialect) forUpdate() string { return "" }

// utcDate: times are stored as RFC 3339 text in UTC (sqliteTimeLayout),
// so the date is the first ten characters.
func (sqliteDialect) utcDate(col string) string { return "substr(" + col + ", 1, 10)" }

// skipLocked is empty: with one writer no other claimer holds a row.
func (sqliteDialect) skipLocked() string { return "" }

// byteOrder is empty: SQLite's default collation, BINARY, is byte order.
func (sqliteDialect) byteOrder() string { return "" }

func (sqliteDialect) timeValue(t time.Time) any {
	return t.UTC().Truncate(time.Microsecond).Format(sqliteTimeLayout)
}

// uniqueViolation goes by the extended result code only. SQLite puts the
// index name in the message alone, which we do not parse: the caller asks
// the table which value is taken instead.
func (sqliteDialect) uniqueViolation(err error) (string, bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return pkeyName, true
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return "", true
	}
	return "", false
}

func (sqliteDialect) foreignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// checkConn makes sure foreign keys are enforced, which SQLite does only
// when asked (sqliteParams asks on every connection): without them deleting
// a user would leave its sessions behind.
func (sqliteDialect) checkConn(ctx context.Context, db *sqlx.DB) error {
	var on int
	if err := db.GetContext(ctx, &on, "PRAGMA foreign_keys"); err != nil {
		return err
	}
	if on != 1 {
		return errors.New("foreign keys are not enforced (PRAGMA foreign_keys is off)")
	}
	return nil
}

// retryable is false: a single writer cannot deadlock.
func (sqliteDialect) retryable(error) bool { return false }

func (sqliteDialect) unavailable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

func (d sqliteDialect) describe() string { return "SQLite database " + d.where }

func (sqliteDialect) migrations() (goose.Dialect, string, []goose.ProviderOption, error) {
	return goose.DialectSQLite3, "sqlite", nil, nil
}
