package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// refreshToken is a stored refresh token hash. Guarded by UserStore.mu.
type refreshToken struct {
	sessionID string
	created   time.Time
	rotated   time.Time // zero: current
}

// checkSessionChanges refuses what the SQL stores' constraints refuse: a
// new session with a malformed id or no refresh hash (domain.ErrInvalid),
// or an id or hash in use (domain.ErrConflict). It changes nothing, so a
// refused user change leaves no trace. The caller holds mu.
func (s *UserStore) checkSessionChanges(changes []domain.SessionChange) error {
	hashes := map[string]bool{}
	ids := map[string]bool{}
	for _, c := range changes {
		if c.Kind != domain.OpenSession {
			continue
		}
		id, ok := domain.CanonicalUserID(c.Session.ID)
		if !ok {
			return fmt.Errorf("memory: open session: id %q is not a UUID: %w", c.Session.ID, domain.ErrInvalid)
		}
		if c.RefreshHash == "" {
			return fmt.Errorf("memory: open session: no refresh token hash: %w", domain.ErrInvalid)
		}
		if _, used := s.sessions[id]; used || ids[id] {
			return fmt.Errorf("memory: open session: id %s in use: %w", id, domain.ErrConflict)
		}
		if _, used := s.tokens[c.RefreshHash]; used || hashes[c.RefreshHash] {
			return fmt.Errorf("memory: open session: refresh token hash in use: %w", domain.ErrConflict)
		}
		ids[id], hashes[c.RefreshHash] = true, true
	}
	return nil
}

// applySessionChanges makes the checked changes of userID's sessions, in
// order. The caller holds mu.
func (s *UserStore) applySessionChanges(userID string, changes []domain.SessionChange) {
	for _, c := range changes {
		switch c.Kind {
		case domain.OpenSession:
			sess := c.Session
			sess.ID, _ = domain.CanonicalUserID(sess.ID)
			sess.UserID = userID
			sess.CreatedAt, sess.LastUsedAt = sess.CreatedAt.UTC(), sess.LastUsedAt.UTC()
			sess.ExpiresAt, sess.RevokedAt = sess.ExpiresAt.UTC(), time.Time{}
			s.sessions[sess.ID] = &sess
			s.tokens[c.RefreshHash] = &refreshToken{sessionID: sess.ID, created: sess.CreatedAt}
		case domain.EndSession:
			id, _ := domain.CanonicalUserID(c.Session.ID)
			if sess, ok := s.sessions[id]; ok && sess.UserID == userID && sess.RevokedAt.IsZero() {
				sess.RevokedAt = c.At.UTC()
			}
		case domain.EndOtherSessions:
			keep, _ := domain.CanonicalUserID(c.Session.ID)
			for id, sess := range s.sessions {
				if sess.UserID == userID && id != keep && sess.Active(c.At) {
					sess.RevokedAt = c.At.UTC()
				}
			}
		}
	}
}

// SessionWithUser implements ports.SessionStore.
func (s *UserStore) SessionWithUser(ctx context.Context, id string) (domain.Session, *domain.User, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, nil, err
	}
	id, _ = domain.CanonicalUserID(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok {
		return domain.Session{}, nil, domain.ErrSessionNotFound
	}
	return *sess, domain.RehydrateUser(s.users[sess.UserID]), nil
}

// RotateRefreshToken implements ports.SessionStore. The store's lock makes
// it atomic: of concurrent rotations of one token exactly one succeeds, the
// others find it rotated, revoke the session and fail with
// domain.ErrRefreshTokenReused.
func (s *UserStore) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time,
	renew func(domain.Session, *domain.User) (domain.Session, error)) (domain.Session, *domain.User, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, nil, err
	}
	if newHash == "" {
		return domain.Session{}, nil, fmt.Errorf("memory: rotate refresh token: no new hash: %w", domain.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[oldHash]
	if !ok || oldHash == "" {
		return domain.Session{}, nil, domain.ErrInvalidRefreshToken
	}
	sess := s.sessions[t.sessionID]
	if !t.rotated.IsZero() {
		if sess.RevokedAt.IsZero() {
			sess.RevokedAt = now.UTC()
		}
		return domain.Session{}, nil, domain.ErrRefreshTokenReused
	}
	u := domain.RehydrateUser(s.users[sess.UserID])
	next, err := renew(*sess, u)
	if err != nil {
		return domain.Session{}, nil, err
	}
	if _, ok := s.tokens[newHash]; ok {
		return domain.Session{}, nil, fmt.Errorf("memory: rotate refresh token: new hash in use: %w", domain.ErrConflict)
	}
	t.rotated = now.UTC()
	s.tokens[newHash] = &refreshToken{sessionID: sess.ID, created: now.UTC()}
	// Only what a refresh may change is taken from renew.
	sess.ExpiresAt, sess.LastUsedAt = next.ExpiresAt.UTC(), next.LastUsedAt.UTC()
	return *sess, u, nil
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

// ListSessions implements ports.SessionStore.
func (s *UserStore) ListSessions(ctx context.Context, userID string, now time.Time) ([]domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	userID, _ = domain.CanonicalUserID(userID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.users[userID]
	if !ok {
		return nil, nil
	}
	u := domain.RehydrateUser(st)
	var out []domain.Session
	for _, sess := range s.sessions {
		if sess.ValidFor(u, now) {
			out = append(out, *sess)
		}
	}
	slices.SortFunc(out, func(a, b domain.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
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
