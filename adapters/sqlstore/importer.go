package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

var _ ports.UserImporter = (*Store)(nil)

// Rows per multi-row INSERT, and values per IN list: both dialects take
// 32,766 parameters or more per statement (PostgreSQL 65,535).
const (
	importUserRows  = 500  // x 28 columns
	importEventRows = 2000 // x 7 columns
	lookupChunk     = 1000
)

// TakenEmails implements ports.UserImporter.
func (s *Store) TakenEmails(ctx context.Context, emails []string) (map[string]bool, error) {
	return s.taken(ctx, s.db, "taken emails", "SELECT email FROM users WHERE email IN (%s)", emails)
}

// TakenNicknames implements ports.UserImporter. lower(nickname) is what the
// unique index holds, so the lookup uses it.
func (s *Store) TakenNicknames(ctx context.Context, nicknames []string) (map[string]bool, error) {
	lower := make([]string, len(nicknames))
	for i, n := range nicknames {
		lower[i] = strings.ToLower(n)
	}
	return s.taken(ctx, s.db, "taken nicknames", "SELECT lower(nickname) FROM users WHERE lower(nickname) IN (%s)", lower)
}

// taken runs query (a SELECT of one text column with an IN list) over
// values in chunks and returns the values found.
func (s *Store) taken(ctx context.Context, q sqlx.QueryerContext, op, query string, values []string) (map[string]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for start := 0; start < len(values); start += lookupChunk {
		chunk := values[start:min(start+lookupChunk, len(values))]
		args := make([]any, len(chunk))
		for i, v := range chunk {
			args[i] = v
		}
		var got []string
		stmt := fmt.Sprintf(query, placeholders(len(chunk)))
		if err := sqlx.SelectContext(ctx, q, &got, s.q(stmt), args...); err != nil {
			return nil, s.wrap(op, err)
		}
		for _, v := range got {
			found[v] = true
		}
	}
	return found, nil
}

// placeholders is "?, ?, …" n times.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// CreateUsers implements ports.UserImporter: multi-row INSERTs of the
// users and of their audit events, and their messages and the webhook
// events they owe, in one transaction.
func (s *Store) CreateUsers(ctx context.Context, users []*domain.User) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	states := make([]domain.UserState, len(users))
	emails := make(map[string]bool, len(users))
	nicks := make(map[string]bool, len(users))
	for i, u := range users {
		st := u.State()
		id, ok := domain.CanonicalUserID(st.ID)
		if !ok {
			return fmt.Errorf("sqlstore: create users: id %q is not a UUID: %w", st.ID, domain.ErrInvalid)
		}
		st.ID = id
		// Duplicates inside the batch are told apart here; the database
		// would only say that some unique index refused a row.
		if emails[st.Email] {
			return domain.ErrEmailTaken
		}
		if n := strings.ToLower(st.Nickname); nicks[n] {
			return domain.ErrNicknameTaken
		}
		emails[st.Email], nicks[strings.ToLower(st.Nickname)] = true, true
		states[i] = st
	}
	msgs := make([][]domain.Message, len(users))
	events := make([][]domain.AuditEvent, len(users))
	var hooks []domain.WebhookEvent
	for i, u := range users {
		msgs[i], events[i] = u.TakeMessages(), u.TakeEvents()
		hooks = append(hooks, u.TakeWebhookEvents()...)
	}
	defer func() {
		if err != nil { // nothing stored: they stay on the users
			for i, u := range users {
				for _, m := range msgs[i] {
					u.Queue(m)
				}
				for _, e := range events[i] {
					u.Record(e) // and the webhook events it owes
				}
			}
		}
	}()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.wrap("create users", err)
	}
	defer tx.Rollback()
	for start := 0; start < len(states); start += importUserRows {
		chunk := states[start:min(start+importUserRows, len(states))]
		args := make([]any, 0, len(chunk)*len(userColumns))
		for _, st := range chunk {
			args = append(args, s.values(st.ID, st)...)
		}
		row := "(" + placeholders(len(userColumns)) + ")"
		stmt := "INSERT INTO users (" + strings.Join(userColumns, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", ")
		if _, err := tx.ExecContext(ctx, s.q(stmt), args...); err != nil {
			return s.batchWriteError(ctx, tx, err, chunk)
		}
	}
	var rows [][]any
	for i, st := range states {
		for _, e := range events[i] {
			r, err := s.eventValues(e, st.UpdatedAt)
			if err != nil {
				return fmt.Errorf("sqlstore: create users: %w", err)
			}
			rows = append(rows, r)
		}
		if err := s.saveMessages(ctx, s.inTx(tx), "create users", msgs[i], st.UpdatedAt); err != nil {
			return err
		}
	}
	for start := 0; start < len(rows); start += importEventRows {
		chunk := rows[start:min(start+importEventRows, len(rows))]
		args := make([]any, 0, len(chunk)*7)
		for _, r := range chunk {
			args = append(args, r...)
		}
		stmt := "INSERT INTO audit_log (id, type, actor_id, target_id, ip, at, detail) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(chunk)), ", ")
		if _, err := tx.ExecContext(ctx, s.q(stmt), args...); err != nil {
			if _, dup := s.d.uniqueViolation(err); dup {
				return fmt.Errorf("sqlstore: create users: an audit event id already exists: %w", domain.ErrConflict)
			}
			return s.wrap("create users: save audit events", err)
		}
	}
	if err := s.saveWebhookEvents(ctx, tx, "create users", hooks); err != nil {
		return err
	}
	if err := s.countUsers(ctx, tx, "create users", len(states)); err != nil {
		return err
	}
	return s.wrap("create users", tx.Commit())
}

// eventValues are the audit_log values of e as saveEvents stores them; an
// event without a time gets at.
func (s *Store) eventValues(e domain.AuditEvent, at time.Time) ([]any, error) {
	if e.At.IsZero() {
		e.At = at
	}
	if e.Type == "" || e.At.IsZero() {
		return nil, fmt.Errorf("audit event %+v has no type or time: %w", e, domain.ErrInvalid)
	}
	id, err := eventID(e.ID)
	if err != nil {
		return nil, err
	}
	return []any{id, string(e.Type), nullString(refID(e.ActorID)), nullString(refID(e.TargetID)),
		nullString(cleanText(e.IP)), s.d.timeValue(e.At), nullString(cleanText(e.Detail))}, nil
}

// batchWriteError translates a failed multi-row INSERT of users.
func (s *Store) batchWriteError(ctx context.Context, tx *sqlx.Tx, err error, chunk []domain.UserState) error {
	index, ok := s.d.uniqueViolation(err)
	if !ok {
		return s.wrap("create users", err)
	}
	switch index {
	case emailKey:
		return domain.ErrEmailTaken
	case nicknameKey:
		return domain.ErrNicknameTaken
	case pkeyName:
		return fmt.Errorf("sqlstore: create users: an id already exists: %w", domain.ErrConflict)
	}
	// SQLite names no index: ask the table, in the transaction the failed
	// statement left alive.
	emails := make([]string, len(chunk))
	nicks := make([]string, len(chunk))
	for i, st := range chunk {
		emails[i], nicks[i] = st.Email, strings.ToLower(st.Nickname)
	}
	if got, e := s.taken(ctx, tx, "create users", "SELECT email FROM users WHERE email IN (%s)", emails); e == nil && len(got) > 0 {
		return domain.ErrEmailTaken
	}
	if got, e := s.taken(ctx, tx, "create users", "SELECT lower(nickname) FROM users WHERE lower(nickname) IN (%s)", nicks); e == nil && len(got) > 0 {
		return domain.ErrNicknameTaken
	}
	return fmt.Errorf("sqlstore: create users: %w: %w", domain.ErrConflict, err)
}
