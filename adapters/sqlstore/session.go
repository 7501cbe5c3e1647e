package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Sessions and their refresh tokens. Tokens are kept as hashes; a rotated
// token stays (rotated_at set) so that its reuse is recognised. Both go with
// their user through ON DELETE CASCADE. Sessions are opened and ended only
// by user changes (saveSessionChanges, in the user's transaction); a
// refresh rotates a token and renews its session without touching the user.

var _ ports.SessionStore = (*Store)(nil)

// The session SQL, with ? placeholders rebound per dialect.
const (
	sessionColumns = "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_version, s.ip, s.user_agent, s.second_factor"
	insertSession  = "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_version, ip, user_agent, second_factor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	insertToken    = "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)" //nolint:gosec // SQL, not a credential
	// selectByRefresh finds a token and its session.
	selectByRefresh = "SELECT t.rotated_at, " + sessionColumns +
		" FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = ?"
	rotateToken   = "UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?"
	renewSession  = "UPDATE sessions SET expires_at = ?, last_used_at = ? WHERE id = ?"
	revokeSession = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
	// endSession ends one session of a user.
	endSession = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL"
	// endOtherSessions ends the active sessions of a user; the except
	// clause is added when one is kept.
	endOtherSessions = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
	// listSessions selects what ListSessions keeps: active, and opened at
	// the user's current token version.
	listSessions = "SELECT " + sessionColumns + " FROM sessions s JOIN users u ON u.id = s.user_id" +
		" WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.user_version = u.token_version" +
		" ORDER BY s.created_at DESC, s.id DESC"
)

// sessionWithUser reads a session and its user in one query: the user's
// columns as they are, the session's prefixed with s_.
var sessionWithUser = "SELECT s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at," +
	" s.last_used_at AS s_last_used_at, s.expires_at AS s_expires_at, s.revoked_at AS s_revoked_at," +
	" s.user_version AS s_user_version, s.ip AS s_ip, s.user_agent AS s_user_agent, s.second_factor AS s_second_factor, " +
	prefixed("u.", userColumns) + " FROM sessions s JOIN users u ON u.id = s.user_id"

// prefixed qualifies each column with a table alias.
func prefixed(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + c
	}
	return strings.Join(out, ", ")
}

// sessionRow is one row of sessions.
type sessionRow struct {
	ID        string         `db:"id"`
	UserID    string         `db:"user_id"`
	CreatedAt dbTime         `db:"created_at"`
	LastUsed  dbTime         `db:"last_used_at"`
	ExpiresAt dbTime         `db:"expires_at"`
	RevokedAt dbTime         `db:"revoked_at"`
	Version   int            `db:"user_version"`
	IP        sql.NullString `db:"ip"`
	UserAgent sql.NullString `db:"user_agent"`
	TwoFactor bool           `db:"second_factor"`
}

func (r sessionRow) session() domain.Session {
	return domain.Session{
		ID:          r.ID,
		UserID:      r.UserID,
		CreatedAt:   r.CreatedAt.Time,
		LastUsedAt:  r.LastUsed.Time,
		ExpiresAt:   r.ExpiresAt.Time,
		RevokedAt:   r.RevokedAt.Time,
		UserVersion: r.Version,
		IP:          r.IP.String,
		UserAgent:   r.UserAgent.String,
		// How the login proved its user.
		SecondFactor: r.TwoFactor,
	}
}

// prefixedSessionRow is sessionRow under the s_ aliases of sessionWithUser.
type prefixedSessionRow struct {
	ID        string         `db:"s_id"`
	UserID    string         `db:"s_user_id"`
	CreatedAt dbTime         `db:"s_created_at"`
	LastUsed  dbTime         `db:"s_last_used_at"`
	ExpiresAt dbTime         `db:"s_expires_at"`
	RevokedAt dbTime         `db:"s_revoked_at"`
	Version   int            `db:"s_user_version"`
	IP        sql.NullString `db:"s_ip"`
	UserAgent sql.NullString `db:"s_user_agent"`
	TwoFactor bool           `db:"s_second_factor"`
}

// sessionUserRow is a row of sessionWithUser.
type sessionUserRow struct {
	prefixedSessionRow
	userRow
}

func (r sessionUserRow) session() domain.Session {
	return sessionRow(r.prefixedSessionRow).session()
}

// tokenRow is a refresh token with its session.
type tokenRow struct {
	RotatedAt dbTime `db:"rotated_at"`
	sessionRow
}

// saveSessionChanges makes, with w, the session changes a change of user id
// recorded, in order.
func (s *Store) saveSessionChanges(ctx context.Context, w rowWriter, op, id string, changes []domain.SessionChange) error {
	for _, c := range changes {
		var err error
		switch c.Kind {
		case domain.OpenSession:
			err = s.openSession(ctx, w, id, c.Session, c.RefreshHash)
		case domain.EndSession:
			sid, ok := domain.CanonicalUserID(c.Session.ID)
			if !ok {
				continue // names no session
			}
			err = w.write(ctx, endSession, s.d.timeValue(c.At), sid, id)
		case domain.EndOtherSessions:
			t := s.d.timeValue(c.At)
			query, args := endOtherSessions, []any{t, id, t}
			if keep, ok := domain.CanonicalUserID(c.Session.ID); ok {
				query += " AND id <> ?"
				args = append(args, keep)
			}
			err = w.write(ctx, query, args...)
		default:
			err = fmt.Errorf("unknown session change %d", c.Kind)
		}
		if err != nil {
			return s.sessionWriteError(op, err)
		}
	}
	return nil
}

// openSession inserts a session of user id and its first refresh token.
func (s *Store) openSession(ctx context.Context, w rowWriter, userID string, sess domain.Session, refreshHash string) error {
	sid, ok := domain.CanonicalUserID(sess.ID)
	if !ok {
		return fmt.Errorf("open session: id %q is not a UUID: %w", sess.ID, domain.ErrInvalid)
	}
	if refreshHash == "" {
		return fmt.Errorf("open session: no refresh token hash: %w", domain.ErrInvalid)
	}
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	created := s.d.timeValue(sess.CreatedAt)
	if err := w.write(ctx, insertSession, sid, userID, created, s.d.timeValue(sess.LastUsedAt),
		s.d.timeValue(sess.ExpiresAt), sess.UserVersion, str(sess.IP), str(sess.UserAgent), sess.SecondFactor); err != nil {
		return err
	}
	return w.write(ctx, insertToken, refreshHash, sid, created)
}

// sessionWriteError translates a failed write of sessions or refresh_tokens.
func (s *Store) sessionWriteError(op string, err error) error {
	if errors.Is(err, domain.ErrInvalid) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if _, ok := s.d.uniqueViolation(err); ok {
		return fmt.Errorf("sqlstore: %s: session id or refresh token hash in use: %w", op, domain.ErrConflict)
	}
	return s.wrap(op, err)
}

// SessionWithUser implements ports.SessionStore.
func (s *Store) SessionWithUser(ctx context.Context, id string) (domain.Session, *domain.User, error) {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.Session{}, nil, domain.ErrSessionNotFound
	}
	var r sessionUserRow
	if err := s.getPrepared(ctx, &r, s.q(sessionWithUser+" WHERE s.id = ?"), id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Session{}, nil, domain.ErrSessionNotFound
		}
		return domain.Session{}, nil, s.wrap("session with user", err)
	}
	u, err := r.user()
	if err != nil {
		return domain.Session{}, nil, err
	}
	return r.session(), u, nil
}

// RotateRefreshToken implements ports.SessionStore. One transaction locks
// the old token's row and its session's (FOR UPDATE on PostgreSQL; SQLite
// has a single writer) and reads the user, so of concurrent rotations of one
// token exactly one succeeds and the others see it rotated: they revoke the
// session, commit that, and fail with domain.ErrRefreshTokenReused.
// Rotation is checked before the session's state, so a reused token is
// reported as reused even when its session has already ended. A user change
// that ends the session waits for the lock, or is waited for, so renew
// always sees the session as it is.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time,
	renew func(domain.Session, *domain.User) (domain.Session, error)) (domain.Session, *domain.User, error) {
	const op = "rotate refresh token"
	if newHash == "" {
		return domain.Session{}, nil, fmt.Errorf("sqlstore: %s: no new hash: %w", op, domain.ErrInvalid)
	}
	if oldHash == "" {
		return domain.Session{}, nil, domain.ErrInvalidRefreshToken
	}
	var (
		out  domain.Session
		user *domain.User
	)
	// A deadlock with a cascading DeleteUser (which locks the session, then
	// its tokens) is resolved by the database and retried here.
	err := s.retry(func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return s.wrap(op, err)
		}
		defer tx.Rollback()
		var r tokenRow
		if err := s.getTx(ctx, tx, &r, s.q(selectByRefresh+s.d.forUpdate()), oldHash); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return domain.ErrInvalidRefreshToken
			}
			return s.wrap(op, err)
		}
		t := s.d.timeValue(now)
		if !r.RotatedAt.IsZero() {
			// Reuse: end the session and keep that, whatever happens next.
			if _, err := tx.ExecContext(ctx, s.q(revokeSession), t, r.ID); err != nil {
				return s.wrap(op, err)
			}
			if err := s.d.notifyUserChanged(ctx, tx, r.UserID+" "+s.instance); err != nil {
				return s.wrap(op, err)
			}
			if err := tx.Commit(); err != nil {
				return s.wrap(op, err)
			}
			return domain.ErrRefreshTokenReused
		}
		u, err := s.getUser(ctx, tx, op, selectUser+" WHERE id = ?", r.UserID)
		if err != nil {
			return err
		}
		next, err := renew(r.session(), u)
		if err != nil {
			return err
		}
		if _, err := s.execTx(ctx, tx, s.q(rotateToken), t, oldHash); err != nil {
			return s.wrap(op, err)
		}
		if _, err := s.execTx(ctx, tx, s.q(insertToken), newHash, r.ID, t); err != nil {
			if _, dup := s.d.uniqueViolation(err); dup {
				return fmt.Errorf("sqlstore: %s: new hash in use: %w", op, domain.ErrConflict)
			}
			return s.wrap(op, err)
		}
		// Only what a refresh may change is taken from renew.
		if _, err := s.execTx(ctx, tx, s.q(renewSession), s.d.timeValue(next.ExpiresAt), s.d.timeValue(next.LastUsedAt), r.ID); err != nil {
			return s.wrap(op, err)
		}
		if err := tx.Commit(); err != nil {
			return s.wrap(op, err)
		}
		out = r.session()
		out.ExpiresAt = next.ExpiresAt.UTC().Truncate(time.Microsecond)
		out.LastUsedAt = next.LastUsedAt.UTC().Truncate(time.Microsecond)
		user = u
		return nil
	})
	if err != nil {
		return domain.Session{}, nil, err
	}
	return out, user, nil
}

// SessionByRefreshHash implements ports.SessionStore.
func (s *Store) SessionByRefreshHash(ctx context.Context, hash string) (domain.Session, error) {
	var r tokenRow
	if err := s.db.GetContext(ctx, &r, s.q(selectByRefresh), hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Session{}, domain.ErrSessionNotFound
		}
		return domain.Session{}, s.wrap("session by refresh token", err)
	}
	return r.session(), nil
}

// ListSessions implements ports.SessionStore.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]domain.Session, error) {
	userID, ok := domain.CanonicalUserID(userID)
	if !ok {
		return nil, ctx.Err()
	}
	var rows []sessionRow
	if err := s.db.SelectContext(ctx, &rows, s.q(listSessions), userID, s.d.timeValue(now)); err != nil {
		return nil, s.wrap("list sessions", err)
	}
	out := make([]domain.Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, nil
}
