package sqlstore

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/pressly/goose/v3"
)

// dialect is everything that differs between PostgreSQL and SQLite.
type dialect interface {
	// bindType is the sqlx placeholder style.
	bindType() int
	// forUpdate is appended to a SELECT that must lock the rows it reads.
	forUpdate() string
	// skipLocked is appended to a SELECT that must lock the rows it reads
	// and pass over rows other transactions hold (claiming outbox messages).
	skipLocked() string
	// byteOrder follows a text expression to compare it by code point
	// (byte order of UTF-8), as SQLite and Go do, whatever the database's
	// collation: users are sorted and prefix-searched in that order.
	byteOrder() string
	// timeValue encodes a time for a timestamp column.
	timeValue(t time.Time) any
	// utcDate is an SQL expression of the UTC date of the timestamp column
	// col, as text YYYY-MM-DD (for counts per day).
	utcDate(col string) string
	// uniqueViolation reports whether err is a unique-key violation and,
	// when the driver says, the name of the index that was violated.
	uniqueViolation(err error) (index string, ok bool)
	// foreignKeyViolation reports whether err is a foreign-key violation
	// (a row that references a missing one).
	foreignKeyViolation(err error) bool
	// retryable reports whether the database aborted a transaction that
	// would succeed if run again (deadlock, serialization failure).
	retryable(err error) bool
	// unavailable reports whether err means the database cannot be reached
	// or is overloaded, so that retrying later may succeed.
	unavailable(err error) bool
	// notifyUserChanged tells other instances, when the transaction commits,
	// that a user changed; payload is the user id and the notifying store's
	// instance (see changes.go). A no-op where no instance can listen.
	notifyUserChanged(ctx context.Context, tx *sqlx.Tx, payload string) error
	// checkConn checks the settings the store relies on, once connected.
	checkConn(ctx context.Context, db *sqlx.DB) error
	// describe names the database for error messages, without credentials.
	describe() string
	// migrations are the goose dialect, the folder in migrations.FS and any
	// extra provider options.
	migrations() (goose.Dialect, string, []goose.ProviderOption, error)
}
