// Package memory holds in-memory adapters: a user store (with its outbox,
// sessions and audit log) for tests and development that passes the same
// contract suites as the SQL stores.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// UserStore keeps users in a map, their outbox, audit log and webhook
// deliveries in slices and their sessions in maps. One lock serialises writers, which is what makes
// UpdateUser and RotateRefreshToken atomic, the ADMIN count exact, and a user
// change, its messages and its audit events saved together or not at all.
type UserStore struct {
	mu       sync.RWMutex
	users    map[string]domain.UserState
	outbox   []*outboxEntry          // in insertion order
	byID     map[string]*outboxEntry // outbox by message id
	sessions map[string]*domain.Session
	tokens   map[string]*refreshToken // by hash
	events   []domain.AuditEvent      // in insertion order, which is id order
	hooks    webhookState             // webhook endpoints and deliveries (webhook.go)
}

var (
	_ ports.UserStore    = (*UserStore)(nil)
	_ ports.Outbox       = (*UserStore)(nil)
	_ ports.SessionStore = (*UserStore)(nil)
	_ ports.AuditLog     = (*UserStore)(nil)
)

// NewUserStore returns an empty store.
func NewUserStore() *UserStore {
	return &UserStore{
		users:    make(map[string]domain.UserState),
		byID:     make(map[string]*outboxEntry),
		sessions: make(map[string]*domain.Session),
		tokens:   make(map[string]*refreshToken),
	}
}

// CreateUser implements ports.UserStore.
func (s *UserStore) CreateUser(ctx context.Context, u *domain.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := u.State()
	if _, ok := s.users[st.ID]; ok {
		return domain.ErrConflict
	}
	return s.save(st.ID, u)
}

// save stores u under id with the messages, events and session changes it
// recorded, all or nothing: on failure they stay recorded on u. The
// caller holds mu.
func (s *UserStore) save(id string, u *domain.User) error {
	next := u.State()
	next.ID = id
	if err := s.checkUnique(next); err != nil {
		return err
	}
	msgs, events, changes := u.TakeMessages(), u.TakeEvents(), u.TakeSessionChanges()
	hooks := u.TakeWebhookEvents()
	entries, err := newEntries(msgs, next.UpdatedAt)
	var saved []domain.AuditEvent
	if err == nil {
		saved, err = newEvents(events, next.UpdatedAt)
	}
	var deliveries []*delivery
	if err == nil {
		deliveries, err = s.fanOut(hooks)
	}
	if err == nil {
		err = s.checkSessionChanges(changes)
	}
	if err != nil {
		for _, m := range msgs {
			u.Queue(m)
		}
		for _, e := range events {
			u.Record(e) // records the webhook events it owes again, too
		}
		u.RecordSessionChanges(changes)
		return err
	}
	s.users[id] = next
	s.appendEntries(entries)
	s.events = append(s.events, saved...)
	s.appendDeliveries(deliveries)
	s.applySessionChanges(id, changes)
	return nil
}

// checkUnique mirrors the SQL stores' unique indexes. The caller holds mu.
func (s *UserStore) checkUnique(st domain.UserState) error {
	for id, o := range s.users {
		if id == st.ID {
			continue
		}
		if o.Email == st.Email {
			return domain.ErrEmailTaken
		}
		if strings.EqualFold(o.Nickname, st.Nickname) {
			return domain.ErrNicknameTaken
		}
		if st.ResetTokenHash != "" && o.ResetTokenHash == st.ResetTokenHash {
			return fmt.Errorf("memory: reset token hash already in use: %w", domain.ErrConflict)
		}
		if st.UnlockTokenHash != "" && o.UnlockTokenHash == st.UnlockTokenHash {
			return fmt.Errorf("memory: unlock token hash already in use: %w", domain.ErrConflict)
		}
		if st.MFATokenHash != "" && o.MFATokenHash == st.MFATokenHash {
			return fmt.Errorf("memory: mfa token hash already in use: %w", domain.ErrConflict)
		}
		if st.EmailChangeTokenHash != "" && o.EmailChangeTokenHash == st.EmailChangeTokenHash {
			return fmt.Errorf("memory: email change token hash already in use: %w", domain.ErrConflict)
		}
		if st.InvitationTokenHash != "" && o.InvitationTokenHash == st.InvitationTokenHash {
			return fmt.Errorf("memory: invitation token hash already in use: %w", domain.ErrConflict)
		}
	}
	return nil
}

// UserByID implements ports.UserStore.
func (s *UserStore) UserByID(ctx context.Context, id string) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.users[id]
	if !ok {
		return nil, domain.ErrUserNotFound
	}
	return domain.RehydrateUser(st), nil
}

// UserByEmail implements ports.UserStore.
func (s *UserStore) UserByEmail(ctx context.Context, email string) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, st := range s.users {
		if st.Email == email {
			return domain.RehydrateUser(st), nil
		}
	}
	return nil, domain.ErrUserNotFound
}

// ListUsers implements ports.UserStore with the SQL stores' semantics:
// text compared by code point, ties broken by id.
func (s *UserStore) ListUsers(ctx context.Context, q ports.UserQuery) ([]*domain.User, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	var matched []ports.UserCursor // the sort position of each match
	states := make(map[string]domain.UserState)
	for id, st := range s.users {
		if matches(st, q) {
			states[id] = st
			matched = append(matched, ports.CursorAt(domain.RehydrateUser(st), q.Sort.By))
		}
	}
	s.mu.RUnlock()
	total := 0
	if q.WithTotal {
		total = len(matched)
	}
	slices.SortFunc(matched, func(a, b ports.UserCursor) int { return compareAt(a, b, q.Sort) })
	if q.After != nil {
		i, _ := slices.BinarySearchFunc(matched, *q.After, func(c, after ports.UserCursor) int {
			if compareAt(c, after, q.Sort) <= 0 {
				return -1
			}
			return 1
		})
		matched = matched[i:]
	}
	offset := min(max(q.Offset, 0), len(matched))
	end := min(offset+max(q.Limit, 0), len(matched))
	page := make([]*domain.User, 0, end-offset)
	for _, c := range matched[offset:end] {
		page = append(page, domain.RehydrateUser(states[c.ID]))
	}
	return page, total, nil
}

// matches reports whether the filters of q select st.
func matches(st domain.UserState, q ports.UserQuery) bool {
	switch {
	case q.Prefix != "" && !strings.HasPrefix(st.Email, q.Prefix) && !strings.HasPrefix(strings.ToLower(st.Nickname), q.Prefix),
		!q.Role.IsZero() && st.Role != q.Role,
		q.IsProfessional != nil && st.IsProfessional != *q.IsProfessional,
		q.EmailVerified != nil && st.EmailVerified != *q.EmailVerified,
		q.IsLocked != nil && (st.IsLocked && (q.LocksLapsedAt.IsZero() || !st.LockLapsedBy(q.LocksLapsedAt))) != *q.IsLocked:
		return false
	}
	return true
}

// compareAt orders two positions by sort, then by id.
func compareAt(a, b ports.UserCursor, sort ports.UserSort) int {
	var c int
	if sort.By == ports.SortByCreatedAt {
		c = a.CreatedAt.Compare(b.CreatedAt)
	} else {
		c = strings.Compare(a.Text, b.Text)
	}
	c = cmp.Or(c, strings.Compare(a.ID, b.ID))
	if sort.Desc {
		return -c
	}
	return c
}

// UpdateUser implements ports.UserStore.
func (s *UserStore) UpdateUser(ctx context.Context, id string, fn func(u *domain.User) error) error {
	return s.UpdateUserCountingAdmins(ctx, id, func(u *domain.User, _ int) error { return fn(u) })
}

// UpdateUserByEmail implements ports.UserStore.
func (s *UserStore) UpdateUserByEmail(ctx context.Context, email string, fn func(u *domain.User) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range s.users {
		if st.Email == email {
			return s.update(id, st, func(u *domain.User, _ int) error { return fn(u) })
		}
	}
	return domain.ErrUserNotFound
}

// UpdateUserCountingAdmins implements ports.UserStore.
func (s *UserStore) UpdateUserCountingAdmins(ctx context.Context, id string, fn func(u *domain.User, admins int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[id]
	if !ok {
		return domain.ErrUserNotFound
	}
	return s.update(id, st, fn)
}

// update runs fn on the user id, whose state is st, and saves it. The
// caller holds mu.
func (s *UserStore) update(id string, st domain.UserState, fn func(u *domain.User, admins int) error) error {
	u := domain.RehydrateUser(st)
	if err := fn(u, s.countAdmins()); err != nil {
		return err
	}
	return s.save(id, u)
}

// DeleteUser implements ports.UserStore. The user's sessions and refresh
// tokens go with it, as the SQL stores' ON DELETE CASCADE does. Audit events
// check records are saved (one without a time gets the user's UpdatedAt);
// messages it queues are not.
func (s *UserStore) DeleteUser(ctx context.Context, id string, check func(u *domain.User, admins int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.users[id]
	if !ok {
		return domain.ErrUserNotFound
	}
	u := domain.RehydrateUser(st)
	if err := check(u, s.countAdmins()); err != nil {
		return err
	}
	events, err := newEvents(u.TakeEvents(), st.UpdatedAt)
	if err != nil {
		return err
	}
	deliveries, err := s.fanOut(u.TakeWebhookEvents())
	if err != nil {
		return err
	}
	delete(s.users, id)
	s.deleteSessionsOf(id)
	s.events = append(s.events, events...)
	s.appendDeliveries(deliveries)
	return nil
}

// UserByToken implements ports.UserStore. It does not look at the token's
// expiry.
func (s *UserStore) UserByToken(ctx context.Context, purpose ports.TokenPurpose, hash string) (*domain.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if hash == "" {
		return nil, domain.ErrUserNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, st := range s.users {
		if tokenHash(st, purpose) == hash {
			return domain.RehydrateUser(st), nil
		}
	}
	return nil, domain.ErrUserNotFound
}

// tokenHash is the stored hash of st's pending token of that purpose.
func tokenHash(st domain.UserState, purpose ports.TokenPurpose) string {
	switch purpose {
	case ports.TokenPasswordReset:
		return st.ResetTokenHash
	case ports.TokenUnlock:
		return st.UnlockTokenHash
	case ports.TokenMFA:
		return st.MFATokenHash
	case ports.TokenEmailChange:
		return st.EmailChangeTokenHash
	case ports.TokenInvitation:
		return st.InvitationTokenHash
	}
	return ""
}

func (s *UserStore) countAdmins() int {
	n := 0
	for _, st := range s.users {
		if st.Role == domain.RoleAdmin && !st.InvitationPending {
			n++
		}
	}
	return n
}
