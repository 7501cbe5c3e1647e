package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The outbox: CreateUser and UpdateUser insert the messages queued on the
// user into the outbox table in their own transaction (saveMessages), so a
// message exists if and only if its change committed. The dispatcher then
// claims, sends and marks them through ports.Outbox.

var _ ports.Outbox = (*Store)(nil)

// maxLastError bounds a stored delivery error, in characters; the
// migrations check the same limit.
const maxLastError = 1000

// The outbox SQL, with ? placeholders rebound per dialect.
const (
	insertMessage = "INSERT INTO outbox (id, kind, recipient, name, link, status, attempts, next_attempt_at, created_at)" +
		" VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
	// claimMessages leases the due messages most overdue first; %s is the
	// dialect's skipLocked, so concurrent claimers on PostgreSQL take
	// disjoint rows. Arguments: lease end, now, limit.
	claimMessages = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?" +
		" WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?" +
		" ORDER BY next_attempt_at, id LIMIT ?%s)" +
		" RETURNING id, kind, recipient, name, link, attempts, created_at"
	// A sent message stays sent: a late MarkRetry or MarkFailed from a
	// dispatcher whose lease ran out changes nothing. Sent wins over failed.
	markSent = "UPDATE outbox SET status = 'sent', sent_at = ?, failed_at = NULL, link = NULL, last_error = NULL" +
		" WHERE id = ? AND status <> 'sent'"
	markRetry     = "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ? AND status = 'pending'"
	markFailed    = "UPDATE outbox SET status = 'failed', failed_at = ?, link = NULL, last_error = ? WHERE id = ? AND status = 'pending'"
	messageExists = "SELECT count(*) FROM outbox WHERE id = ?"
	// countMessages is the backlog, for metrics; the status index answers it.
	countMessages = "SELECT status, count(*) AS n FROM outbox WHERE status IN ('pending', 'failed') GROUP BY status"
)

// messageRow is what a claim returns of an outbox row.
type messageRow struct {
	ID        string         `db:"id"`
	Kind      string         `db:"kind"`
	Recipient string         `db:"recipient"`
	Name      string         `db:"name"`
	Link      sql.NullString `db:"link"`
	Attempts  int            `db:"attempts"`
	CreatedAt dbTime         `db:"created_at"`
}

// saveMessages inserts msgs as pending outbox rows with w. They are created,
// and due, at the time of the change that queued them (the user's
// UpdatedAt), which comes from the service's clock like the dispatcher's now.
func (s *Store) saveMessages(ctx context.Context, w rowWriter, op string, msgs []domain.Message, at time.Time) error {
	t := s.d.timeValue(at)
	for _, m := range msgs {
		id, err := uuid.NewV7() // time-ordered, so id order breaks ties by age
		if err != nil {
			return fmt.Errorf("sqlstore: %s: message id: %w", op, err)
		}
		if err := w.write(ctx, insertMessage,
			id.String(), string(m.Kind), m.To, m.Name, nullString(m.Link), t, t); err != nil {
			return s.wrap(op+": save message", err)
		}
	}
	return nil
}

// ClaimMessages implements ports.Outbox. One UPDATE picks and leases the
// rows: on PostgreSQL its subquery locks them with SKIP LOCKED, so
// concurrent claimers never get the same row; SQLite has a single writer.
// The claimed messages are returned oldest (first created) first.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ports.OutboxMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []ports.OutboxMessage{}, nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, s.wrap("claim messages", err)
	}
	defer tx.Rollback()
	var rows []messageRow
	query := s.q(fmt.Sprintf(claimMessages, s.d.skipLocked()))
	until := now.Add(max(lease, 0))
	if err := tx.SelectContext(ctx, &rows, query, s.d.timeValue(until), s.d.timeValue(now), limit); err != nil {
		return nil, s.wrap("claim messages", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap("claim messages", err)
	}
	// RETURNING has no order; ids are time-ordered UUIDs.
	slices.SortFunc(rows, func(a, b messageRow) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt.Time), strings.Compare(a.ID, b.ID))
	})
	out := make([]ports.OutboxMessage, 0, len(rows))
	for _, r := range rows {
		out = append(out, ports.OutboxMessage{
			Message: domain.Message{
				ID:   r.ID,
				Kind: domain.MessageKind(r.Kind),
				To:   r.Recipient,
				Name: r.Name,
				Link: r.Link.String,
			},
			Attempts:  r.Attempts,
			CreatedAt: r.CreatedAt.Time,
		})
	}
	return out, nil
}

// MarkSent implements ports.Outbox. It erases the link, which holds a secret.
func (s *Store) MarkSent(ctx context.Context, id string, now time.Time) error {
	return s.mark(ctx, "mark message sent", id, markSent, s.d.timeValue(now))
}

// MarkRetry implements ports.Outbox. It does nothing to a message that is
// no longer pending.
func (s *Store) MarkRetry(ctx context.Context, id string, next time.Time, lastError string) error {
	return s.mark(ctx, "mark message for retry", id, markRetry, s.d.timeValue(next), lastErrorValue(lastError))
}

// MarkFailed implements ports.Outbox. It does nothing to a message that is
// no longer pending.
func (s *Store) MarkFailed(ctx context.Context, id string, now time.Time, lastError string) error {
	return s.mark(ctx, "mark message failed", id, markFailed, s.d.timeValue(now), lastErrorValue(lastError))
}

// mark runs query, whose last placeholder is the message id, and fails with
// domain.ErrNotFound when there is no such message.
func (s *Store) mark(ctx context.Context, op, id, query string, args ...any) error {
	uid, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: message %q: %w", op, id, domain.ErrNotFound)
	}
	id = uid.String()
	found, err := s.updateExisting(ctx, op, query, messageExists, id, args...)
	if err == nil && !found {
		err = fmt.Errorf("sqlstore: %s: message %s: %w", op, id, domain.ErrNotFound)
	}
	return err
}

// OutboxCounts reports the outbox's backlog for metrics: the messages not
// yet sent (pending, due or waiting for a retry, including those being
// sent now) and those given up (failed). It is one query; callers bound it
// with ctx's deadline.
func (s *Store) OutboxCounts(ctx context.Context) (pending, failed int, err error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.q(countMessages)); err != nil {
		return 0, 0, s.wrap("count outbox messages", err)
	}
	for _, r := range rows {
		switch r.Status {
		case "pending":
			pending = r.N
		case "failed":
			failed = r.N
		}
	}
	return pending, failed, nil
}

// nullString stores "" as NULL.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// lastErrorValue makes a delivery error storable: valid UTF-8 without NUL
// (PostgreSQL refuses both), at most maxLastError characters, NULL if empty.
func lastErrorValue(msg string) any {
	msg = strings.ToValidUTF8(strings.ReplaceAll(msg, "\x00", ""), "\uFFFD")
	if utf8.RuneCountInString(msg) > maxLastError {
		msg = string([]rune(msg)[:maxLastError])
	}
	return nullString(msg)
}
