package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/usersvc/usersvc/domain"
)

// The sessions a person can see and end (PRODUCT.md 8.2), and staff's
// view of a user's sessions. Ending a session is a change of its user, so
// it is saved with the user's audit event in one write; the access and
// refresh tokens of an ended session are refused from the next request on,
// since authentication and refresh read the session as it is.

// SessionInfo is an active session as its owner, or staff, see it.
type SessionInfo struct {
	domain.Session
	// Current: the session of the caller's own token (never, for staff).
	Current bool
}

// ListMySessions returns the caller's active sessions, newest first; the
// caller's own is marked Current.
func (s *Service) ListMySessions(ctx context.Context, actor domain.Actor) ([]SessionInfo, error) {
	list, err := s.listSessions(ctx, actor.ID, actor.SessionID)
	if err != nil {
		return nil, fmt.Errorf("list my sessions: %w", err)
	}
	return list, nil
}

func (s *Service) listSessions(ctx context.Context, userID, current string) ([]SessionInfo, error) {
	sessions, err := s.sessions.ListSessions(ctx, userID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, len(sessions))
	for i, sess := range sessions {
		out[i] = SessionInfo{Session: sess, Current: current != "" && sess.ID == current}
	}
	return out, nil
}

// EndMySession ends one of the caller's sessions (the caller's own too, as
// a logout would). A session that is not the caller's, unknown or already
// over fails with domain.ErrSessionNotFound: another user's sessions are
// not told apart from sessions that do not exist.
func (s *Service) EndMySession(ctx context.Context, actor domain.Actor, sessionID string) error {
	if err := s.endMySession(ctx, actor, sessionID); err != nil {
		return fmt.Errorf("end my session: %w", err)
	}
	return nil
}

func (s *Service) endMySession(ctx context.Context, actor domain.Actor, sessionID string) error {
	id, ok := domain.CanonicalUserID(sessionID)
	if !ok {
		return domain.ErrSessionNotFound
	}
	sess, owner, err := s.sessions.SessionWithUser(ctx, id)
	if err != nil {
		return err
	}
	if sess.UserID != actor.ID || !sess.ValidFor(owner, s.clock.Now()) {
		return domain.ErrSessionNotFound
	}
	err = s.users.UpdateUser(ctx, actor.ID, func(u *domain.User) error {
		u.EndSession(id, s.clock.Now())
		u.Record(s.event(ctx, domain.EventSessionEnded, actor.ID, actor.ID, "session "+id))
		return nil
	})
	if errors.Is(err, domain.ErrUserNotFound) { // deleted meanwhile: its sessions went with it
		return domain.ErrSessionNotFound
	}
	return err
}

// EndMyOtherSessions ends every session of the caller's but the caller's own.
func (s *Service) EndMyOtherSessions(ctx context.Context, actor domain.Actor) error {
	err := s.users.UpdateUser(ctx, actor.ID, func(u *domain.User) error {
		u.EndOtherSessions(actor.SessionID, s.clock.Now())
		u.Record(s.event(ctx, domain.EventSessionEnded, actor.ID, actor.ID, "every other session"))
		return nil
	})
	if err != nil {
		return fmt.Errorf("end my other sessions: %w", err)
	}
	return nil
}

// ListUserSessions returns a user's active sessions, newest first, to
// staff: an ADMIN, or a MANAGER for ANONYMOUS and AUTHENTICATED accounts.
// None is Current, even the caller's own.
func (s *Service) ListUserSessions(ctx context.Context, actor domain.Actor, userID string) ([]SessionInfo, error) {
	list, err := s.listUserSessions(ctx, actor, userID)
	if err != nil {
		return nil, fmt.Errorf("list user sessions: %w", err)
	}
	return list, nil
}

func (s *Service) listUserSessions(ctx context.Context, actor domain.Actor, userID string) ([]SessionInfo, error) {
	if err := actor.CheckAdministers(); err != nil {
		return nil, err
	}
	id, ok := domain.CanonicalUserID(userID)
	if !ok {
		return nil, domain.ErrUserNotFound
	}
	u, err := s.users.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := actor.CheckActsOn(u); err != nil {
		return nil, err
	}
	return s.listSessions(ctx, id, "")
}

// EndUserSessions ends every session of a user on behalf of staff (an
// ADMIN, or a MANAGER for ANONYMOUS and AUTHENTICATED accounts).
func (s *Service) EndUserSessions(ctx context.Context, actor domain.Actor, userID string) error {
	_, err := s.staffUpdate(ctx, actor, userID, func(u *domain.User) error {
		u.EndOtherSessions("", s.clock.Now())
		u.Record(s.event(ctx, domain.EventSessionEnded, actor.ID, u.ID(), "every session, by staff"))
		return nil
	})
	if err != nil {
		return fmt.Errorf("end user sessions: %w", err)
	}
	return nil
}
