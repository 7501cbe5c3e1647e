package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The audit log: CreateUser, UpdateUser(CountingAdmins) and DeleteUser insert
// the events recorded on the user in their own transaction (saveEvents), so
// an event exists if and only if its change committed; RecordEvent saves the
// events that belong to no user change (a failed login for an unknown email).

var _ ports.AuditLog = (*Store)(nil)

// Listing limits: ListEvents returns defaultEventLimit events when the
// filter sets none, and never more than maxEventLimit.
const (
	defaultEventLimit = 50
	maxEventLimit     = 1000
)

// The audit SQL, with ? placeholders rebound per dialect.
const (
	insertEvent = "INSERT INTO audit_log (id, type, actor_id, target_id, ip, at, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
	selectEvent = "SELECT id, type, actor_id, target_id, ip, at, detail FROM audit_log"
)

// eventRow is one row of audit_log.
type eventRow struct {
	ID       string         `db:"id"`
	Type     string         `db:"type"`
	ActorID  sql.NullString `db:"actor_id"`
	TargetID sql.NullString `db:"target_id"`
	IP       sql.NullString `db:"ip"`
	At       dbTime         `db:"at"`
	Detail   sql.NullString `db:"detail"`
}

// RecordEvent implements ports.AuditLog. The store assigns the id (a UUIDv7,
// so ids sort in the order events were saved) unless e has one; e.At is
// required and an event without a type or time fails with domain.ErrInvalid.
func (s *Store) RecordEvent(ctx context.Context, e domain.AuditEvent) error {
	if e.At.IsZero() {
		return fmt.Errorf("sqlstore: record event: no time: %w", domain.ErrInvalid)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.wrap("record event", err)
	}
	defer tx.Rollback()
	if err := s.saveEvents(ctx, s.inTx(tx), "record event", []domain.AuditEvent{e}, time.Time{}); err != nil {
		return err
	}
	return s.wrap("record event", tx.Commit())
}

// saveEvents inserts events with w. An event without an id gets a new UUIDv7;
// one without a time gets at, the time of the change that recorded it (the
// user's UpdatedAt, as for outbox messages). Events are not changed: a
// failed transaction leaves them as they were for the caller.
func (s *Store) saveEvents(ctx context.Context, w rowWriter, op string, events []domain.AuditEvent, at time.Time) error {
	for _, e := range events {
		if e.At.IsZero() {
			e.At = at
		}
		if e.Type == "" || e.At.IsZero() {
			return fmt.Errorf("sqlstore: %s: audit event %+v has no type or time: %w", op, e, domain.ErrInvalid)
		}
		id, err := eventID(e.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		if err := w.write(ctx, insertEvent, id, string(e.Type),
			nullString(refID(e.ActorID)), nullString(refID(e.TargetID)), nullString(cleanText(e.IP)),
			s.d.timeValue(e.At), nullString(cleanText(e.Detail))); err != nil {
			if _, dup := s.d.uniqueViolation(err); dup {
				return fmt.Errorf("sqlstore: %s: audit event %s already exists: %w", op, id, domain.ErrConflict)
			}
			return s.wrap(op+": save audit event", err)
		}
	}
	return nil
}

// eventID returns the id to store an event under: a new UUIDv7 if it has
// none, its own in canonical form otherwise. A non-UUID id is invalid.
func eventID(id string) (string, error) {
	if id == "" {
		v, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("audit event id: %w", err)
		}
		return v.String(), nil
	}
	c, ok := domain.CanonicalUserID(id)
	if !ok {
		return "", fmt.Errorf("audit event id %q is not a UUID: %w", id, domain.ErrInvalid)
	}
	return c, nil
}

// refID stores a user id named by an event (or a filter) in canonical form
// when it is a UUID, so that filters match however the id was spelt; other
// values are kept as they are.
func refID(id string) string {
	if c, ok := domain.CanonicalUserID(id); ok {
		return c
	}
	return id
}

// cleanText makes free text storable: valid UTF-8 without NUL, which
// PostgreSQL refuses.
func cleanText(v string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "\uFFFD")
}

// ListEvents implements ports.AuditLog: newest (highest id) first. A limit
// of zero or less means defaultEventLimit; more than maxEventLimit means
// maxEventLimit. A cursor (f.Before) that is not a UUID fails with
// domain.ErrInvalid.
func (s *Store) ListEvents(ctx context.Context, f ports.AuditFilter) ([]domain.AuditEvent, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.ActorID != "" {
		add("actor_id = ?", refID(f.ActorID))
	}
	if f.TargetID != "" {
		add("target_id = ?", refID(f.TargetID))
	}
	if f.Type != "" {
		add("type = ?", string(f.Type))
	}
	if !f.Since.IsZero() {
		add("at >= ?", s.d.timeValue(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", s.d.timeValue(f.Until))
	}
	if f.Before != "" {
		before, ok := domain.CanonicalUserID(f.Before)
		if !ok {
			return nil, fmt.Errorf("sqlstore: list events: cursor %q is not an event id: %w", f.Before, domain.ErrInvalid)
		}
		add("id < ?", before)
	}
	query := selectEvent
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, eventLimit(f.Limit))

	var rows []eventRow
	if err := s.db.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, s.wrap("list events", err)
	}
	out := make([]domain.AuditEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, domain.AuditEvent{
			ID:       r.ID,
			Type:     domain.AuditEventType(r.Type),
			ActorID:  r.ActorID.String,
			TargetID: r.TargetID.String,
			IP:       r.IP.String,
			At:       r.At.Time,
			Detail:   r.Detail.String,
		})
	}
	return out, nil
}

// eventLimit applies the listing limits to a filter's limit.
func eventLimit(n int) int {
	if n <= 0 {
		return defaultEventLimit
	}
	return min(n, maxEventLimit)
}
