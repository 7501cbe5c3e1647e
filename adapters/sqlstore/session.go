package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Sessions and their refresh tokens. Tokens are kept as hashes; a rotated
// token stays (rotated_at set) so that its reuse is recognised. Both go with
// their user through ON DELETE CASCADE.

var _ ports.SessionStore = (*Store)(nil)

// The session SQL, with ? placeholders rebound per dialect.
const (
	sessionColumns = "s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at, s.user_version"
	insertSession  = "INSERT INTO sessions (id, user_id, created_at, expires_at, user_version) VALUES (?, ?, ?, ?, ?)"
	insertToken    = "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)" //nolint:gosec // SQL, not a credential
	selectSession  = "SELECT " + sessionColumns + " FROM sessions s WHERE s.id = ?"
	// selectByToken finds a token and its session; with the dialect's
	// forUpdate it locks both rows.
	selectByToken = "SELECT t.rotated_at, " + sessionColumns +
		" FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = ?"
	rotateToken   = "UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?"
	extendSession = "UPDATE sessions SET expires_at = ? WHERE id = ?"
	revokeSession = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
	sessionExists = "SELECT count(*) FROM sessions WHERE id = ?"
	// revokeUserSessions ends the active sessions of a user; the except
	// clause is added when one is kept.
	revokeUserSessions = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
)

// sessionRow is one row of sessions.
type sessionRow struct {
	ID        string `db:"id"`
	UserID    string `db:"user_id"`
	CreatedAt dbTime `db:"created_at"`
	ExpiresAt dbTime `db:"expires_at"`
	RevokedAt dbTime `db:"revoked_at"`
	Version   int    `db:"user_version"`
}

func (r sessionRow) session() domain.Session {
	return domain.Session{
		ID:          r.ID,
		UserID:      r.UserID,
		CreatedAt:   r.CreatedAt.Time,
		ExpiresAt:   r.ExpiresAt.Time,
		RevokedAt:   r.RevokedAt.Time,
		UserVersion: r.Version,
	}
}

// tokenRow is a refresh token with its session.
type tokenRow struct {
	RotatedAt dbTime `db:"rotated_at"`
	sessionRow
}

// CreateSession implements ports.SessionStore. The session id and user id
// must be UUIDs and the hash non-empty (else domain.ErrInvalid); a user that
// does not exist fails with domain.ErrUserNotFound, a session id or hash in
// use with domain.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session, refreshHash string) error {
	const op = "create session"
	id, ok := domain.CanonicalUserID(sess.ID)
	if !ok {
		return fmt.Errorf("sqlstore: %s: id %q is not a UUID: %w", op, sess.ID, domain.ErrInvalid)
	}
	userID, ok := domain.CanonicalUserID(sess.UserID)
	if !ok {
		return fmt.Errorf("sqlstore: %s: %w", op, domain.ErrUserNotFound)
	}
	if refreshHash == "" {
		return fmt.Errorf("sqlstore: %s: no refresh token hash: %w", op, domain.ErrInvalid)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.wrap(op, err)
	}
	defer tx.Rollback()
	created := s.d.timeValue(sess.CreatedAt)
	if _, err := tx.ExecContext(ctx, s.q(insertSession), id, userID, created, s.d.timeValue(sess.ExpiresAt), sess.UserVersion); err != nil {
		return s.sessionWriteError(op, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(insertToken), refreshHash, id, created); err != nil {
		return s.sessionWriteError(op, err)
	}
	return s.wrap(op, tx.Commit())
}

// sessionWriteError translates a failed insert into sessions or
// refresh_tokens.
func (s *Store) sessionWriteError(op string, err error) error {
	if s.d.foreignKeyViolation(err) {
		return fmt.Errorf("sqlstore: %s: %w", op, domain.ErrUserNotFound)
	}
	if _, ok := s.d.uniqueViolation(err); ok {
		return fmt.Errorf("sqlstore: %s: session id or refresh token hash in use: %w", op, domain.ErrConflict)
	}
	return s.wrap(op, err)
}

// RotateRefreshToken implements ports.SessionStore. One transaction locks
// the old token's row and its session's (FOR UPDATE on PostgreSQL; SQLite
// has a single writer), so of concurrent rotations of one token exactly one
// succeeds and the others see it rotated: they revoke the session, commit
// that, and fail with domain.ErrRefreshTokenReused. Rotation is checked
// before the session's state, so a reused token is reported as reused even
// when its session has already ended.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now, newExpiry time.Time) (domain.Session, error) {
	const op = "rotate refresh token"
	if newHash == "" {
		return domain.Session{}, fmt.Errorf("sqlstore: %s: no new hash: %w", op, domain.ErrInvalid)
	}
	if oldHash == "" {
		return domain.Session{}, domain.ErrInvalidRefreshToken
	}
	var out domain.Session
	// A deadlock with a cascading DeleteUser (which locks the session, then
	// its tokens) is resolved by the database and retried here.
	err := s.retry(func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return s.wrap(op, err)
		}
		defer tx.Rollback()
		var r tokenRow
		if err := tx.GetContext(ctx, &r, s.q(selectByToken+s.d.forUpdate()), oldHash); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return domain.ErrInvalidRefreshToken
			}
			return s.wrap(op, err)
		}
		if !r.RotatedAt.IsZero() {
			// Reuse: end the session and keep that, whatever happens next.
			if _, err := tx.ExecContext(ctx, s.q(revokeSession), s.d.timeValue(now), r.ID); err != nil {
				return s.wrap(op, err)
			}
			if err := tx.Commit(); err != nil {
				return s.wrap(op, err)
			}
			return domain.ErrRefreshTokenReused
		}
		sess := r.session()
		if !sess.Active(now) {
			return domain.ErrInvalidRefreshToken
		}
		t := s.d.timeValue(now)
		if _, err := tx.ExecContext(ctx, s.q(rotateToken), t, oldHash); err != nil {
			return s.wrap(op, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(insertToken), newHash, sess.ID, t); err != nil {
			if _, dup := s.d.uniqueViolation(err); dup {
				return fmt.Errorf("sqlstore: %s: new hash in use: %w", op, domain.ErrConflict)
			}
			return s.wrap(op, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(extendSession), s.d.timeValue(newExpiry), sess.ID); err != nil {
			return s.wrap(op, err)
		}
		if err := tx.Commit(); err != nil {
			return s.wrap(op, err)
		}
		sess.ExpiresAt = newExpiry.UTC().Truncate(time.Microsecond)
		out = sess
		return nil
	})
	if err != nil {
		return domain.Session{}, err
	}
	return out, nil
}

// SessionByID implements ports.SessionStore.
func (s *Store) SessionByID(ctx context.Context, id string) (domain.Session, error) {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	return s.getSession(ctx, s.db, "session by id", selectSession, id)
}

// SessionByRefreshHash implements ports.SessionStore.
func (s *Store) SessionByRefreshHash(ctx context.Context, hash string) (domain.Session, error) {
	var r tokenRow
	if err := s.db.GetContext(ctx, &r, s.q(selectByToken), hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Session{}, domain.ErrSessionNotFound
		}
		return domain.Session{}, s.wrap("session by refresh token", err)
	}
	return r.session(), nil
}

func (s *Store) getSession(ctx context.Context, q sqlx.QueryerContext, op, query string, args ...any) (domain.Session, error) {
	var r sessionRow
	if err := sqlx.GetContext(ctx, q, &r, s.q(query), args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Session{}, domain.ErrSessionNotFound
		}
		return domain.Session{}, s.wrap(op, err)
	}
	return r.session(), nil
}

// RevokeSession implements ports.SessionStore. A revoked session keeps its
// first revocation time.
func (s *Store) RevokeSession(ctx context.Context, id string, now time.Time) error {
	const op = "revoke session"
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.ErrSessionNotFound
	}
	found, err := s.updateExisting(ctx, op, revokeSession, sessionExists, id, s.d.timeValue(now))
	if err == nil && !found {
		err = domain.ErrSessionNotFound
	}
	return err
}

// RevokeUserSessions implements ports.SessionStore. Sessions already
// revoked or expired at now are left as they are and not counted. An
// exceptID that is not a UUID names no session, so none is kept.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptID string, now time.Time) (int, error) {
	const op = "revoke user sessions"
	userID, ok := domain.CanonicalUserID(userID)
	if !ok {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 0, nil
	}
	t := s.d.timeValue(now)
	query, args := revokeUserSessions, []any{t, userID, t}
	if except, ok := domain.CanonicalUserID(exceptID); ok {
		query += " AND id <> ?"
		args = append(args, except)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, s.wrap(op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap(op, err)
	}
	return int(n), nil
}
