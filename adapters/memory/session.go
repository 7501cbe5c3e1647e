package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// refreshToken is a stored refresh token hash. Guarded by UserStore.mu.
type refreshToken struct {
	sessionID string
	created   time.Time
	rotated   time.Time // zero: current
}

// CreateSession implements ports.SessionStore, with the SQL stores' checks:
// UUID ids and a hash (else domain.ErrInvalid), an existing user (else
// domain.ErrUserNotFound), an unused id and hash (else domain.ErrConflict).
func (s *UserStore) CreateSession(ctx context.Context, sess domain.Session, refreshHash string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, ok := domain.CanonicalUserID(sess.ID)
	if !ok {
		return fmt.Errorf("memory: create session: id %q is not a UUID: %w", sess.ID, domain.ErrInvalid)
	}
	if refreshHash == "" {
		return fmt.Errorf("memory: create session: no refresh token hash: %w", domain.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[sess.UserID]; !ok {
		return fmt.Errorf("memory: create session: %w", domain.ErrUserNotFound)
	}
	if _, ok := s.sessions[id]; ok {
		return fmt.Errorf("memory: create session: id %s in use: %w", id, domain.ErrConflict)
	}
	if _, ok := s.tokens[refreshHash]; ok {
		return fmt.Errorf("memory: create session: refresh token hash in use: %w", domain.ErrConflict)
	}
	sess.ID = id
	sess.CreatedAt, sess.ExpiresAt, sess.RevokedAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC(), time.Time{}
	s.sessions[id] = &sess
	s.tokens[refreshHash] = &refreshToken{sessionID: id, created: sess.CreatedAt}
	return nil
}

// RotateRefreshToken implements ports.SessionStore. The store's lock makes
// it atomic: of concurrent rotations of one token exactly one succeeds, the
// others find it rotated, revoke the session and fail with
// domain.ErrRefreshTokenReused.
func (s *UserStore) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now, newExpiry time.Time) (domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, err
	}
	if newHash == "" {
		return domain.Session{}, fmt.Errorf("memory: rotate refresh token: no new hash: %w", domain.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[oldHash]
	if !ok || oldHash == "" {
		return domain.Session{}, domain.ErrInvalidRefreshToken
	}
	sess := s.sessions[t.sessionID]
	if !t.rotated.IsZero() {
		if sess.RevokedAt.IsZero() {
			sess.RevokedAt = now.UTC()
		}
		return domain.Session{}, domain.ErrRefreshTokenReused
	}
	if !sess.Active(now) {
		return domain.Session{}, domain.ErrInvalidRefreshToken
	}
	if _, ok := s.tokens[newHash]; ok {
		return domain.Session{}, fmt.Errorf("memory: rotate refresh token: new hash in use: %w", domain.ErrConflict)
	}
	t.rotated = now.UTC()
	s.tokens[newHash] = &refreshToken{sessionID: sess.ID, created: now.UTC()}
	sess.ExpiresAt = newExpiry.UTC()
	return *sess, nil
}

// SessionByID implements ports.SessionStore.
func (s *UserStore) SessionByID(ctx context.Context, id string) (domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, err
	}
	id, _ = domain.CanonicalUserID(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	return *sess, nil
}

// SessionByRefreshHash implements ports.SessionStore.
func (s *UserStore) SessionByRefreshHash(ctx context.Context, hash string) (domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[hash]
	if !ok {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	return *s.sessions[t.sessionID], nil
}

// RevokeSession implements ports.SessionStore. A revoked session keeps its
// first revocation time.
func (s *UserStore) RevokeSession(ctx context.Context, id string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, _ = domain.CanonicalUserID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.ErrSessionNotFound
	}
	if sess.RevokedAt.IsZero() {
		sess.RevokedAt = now.UTC()
	}
	return nil
}

// RevokeUserSessions implements ports.SessionStore. Sessions already revoked
// or expired at now are left as they are and not counted.
func (s *UserStore) RevokeUserSessions(ctx context.Context, userID, exceptID string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if c, ok := domain.CanonicalUserID(exceptID); ok {
		exceptID = c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.sessions {
		if sess.UserID == userID && id != exceptID && sess.Active(now) {
			sess.RevokedAt = now.UTC()
			n++
		}
	}
	return n, nil
}

// deleteSessionsOf removes a deleted user's sessions and their tokens, as
// ON DELETE CASCADE does in the SQL stores. The caller holds mu.
func (s *UserStore) deleteSessionsOf(userID string) {
	for hash, t := range s.tokens {
		if s.sessions[t.sessionID].UserID == userID {
			delete(s.tokens, hash)
		}
	}
	for id, sess := range s.sessions {
		if sess.UserID == userID {
			delete(s.sessions, id)
		}
	}
}
