// Package authcache keeps what authenticating a request reads (a session
// and its user), and users read by id, in memory, so that most requests
// need no query at all.
//
// It is a decorator of the stores: reads of SessionWithUser are served from
// the cache, and every user change made through it drops that user's
// entries before it returns, so a change is honoured from the next request
// on this instance. Changes made elsewhere (other instances, the command
// line) arrive through Invalidate, from the database's change feed; while
// the feed is not live the cache is bypassed, not trusted. Without a feed
// (SQLite) entries live a second at most.
package authcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Store is a ports.UserStore and ports.SessionStore that caches
// SessionWithUser and UserByID.
type Store struct {
	ports.UserStore
	ports.SessionStore

	ttl  time.Duration
	max  int
	now  func() time.Time
	live atomic.Bool

	mu sync.Mutex
	// epoch moves at every invalidation. A read remembers it before it
	// asks the store and keeps its answer only if it has not moved, so an
	// answer read before a change can never be kept after it.
	epoch   uint64
	entries map[string]entry               // by session id
	byUser  map[string]map[string]struct{} // user id -> session ids
	users   map[string]userEntry           // by user id

	hits, misses atomic.Uint64
}

var (
	_ ports.UserStore    = (*Store)(nil)
	_ ports.SessionStore = (*Store)(nil)
)

type entry struct {
	session domain.Session
	user    domain.UserState
	until   time.Time
}

type userEntry struct {
	user  domain.UserState
	until time.Time
}

// Options tune a Store.
type Options struct {
	// TTL bounds how long an entry is trusted: with a live change feed a
	// safety net, without one the most a change made elsewhere goes unseen.
	TTL time.Duration
	// MaxEntries bounds the memory (an entry is about 1 KiB).
	MaxEntries int
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// New returns a cache in front of users and sessions. It starts not live:
// call SetLive(true) once the change feed listens, or at once when there is
// no other process to hear from (TTL then bounds what it may miss).
func New(users ports.UserStore, sessions ports.SessionStore, o Options) (*Store, error) {
	if users == nil || sessions == nil {
		return nil, errors.New("authcache: the stores are required")
	}
	if o.TTL <= 0 || o.MaxEntries <= 0 {
		return nil, errors.New("authcache: TTL and MaxEntries must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{
		UserStore: users, SessionStore: sessions, ttl: o.TTL, max: o.MaxEntries, now: o.Now,
		entries: map[string]entry{}, byUser: map[string]map[string]struct{}{}, users: map[string]userEntry{},
	}, nil
}

// SetLive says whether changes made elsewhere reach Invalidate. Becoming
// live drops everything (what was missed is unknown); not live bypasses
// the cache.
func (c *Store) SetLive(live bool) {
	if live {
		c.InvalidateAll()
	}
	c.live.Store(live)
}

// Live reports whether the cache is in use (its change feed listens).
func (c *Store) Live() bool { return c.live.Load() }

// Invalidate drops what is cached of user id.
func (c *Store) Invalidate(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for sid := range c.byUser[userID] {
		delete(c.entries, sid)
	}
	delete(c.byUser, userID)
	delete(c.users, userID)
}

// InvalidateAll drops everything.
func (c *Store) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
	clear(c.byUser)
	clear(c.users)
}

// Stats reports the hits and misses so far, for metrics.
func (c *Store) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// SessionWithUser implements ports.SessionStore, from the cache when it may.
func (c *Store) SessionWithUser(ctx context.Context, id string) (domain.Session, *domain.User, error) {
	if !c.live.Load() {
		return c.SessionStore.SessionWithUser(ctx, id)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	start := c.epoch
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		c.hits.Add(1)
		// A user of its own to each caller: use cases may record on it.
		return e.session, domain.RehydrateUser(e.user), nil
	}
	c.misses.Add(1)
	sess, u, err := c.SessionStore.SessionWithUser(ctx, id)
	if err != nil {
		return sess, u, err
	}
	c.keep(start, sess, u, now)
	return sess, u, nil
}

// UserByID implements ports.UserStore, from the cache when it may.
func (c *Store) UserByID(ctx context.Context, id string) (*domain.User, error) {
	cid, ok := domain.CanonicalUserID(id)
	if !ok || !c.live.Load() {
		return c.UserStore.UserByID(ctx, id)
	}
	now := c.now()
	c.mu.Lock()
	e, hit := c.users[cid]
	start := c.epoch
	c.mu.Unlock()
	if hit && now.Before(e.until) {
		c.hits.Add(1)
		return domain.RehydrateUser(e.user), nil
	}
	c.misses.Add(1)
	u, err := c.UserStore.UserByID(ctx, cid)
	if err != nil {
		return u, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch == start && c.live.Load() {
		if len(c.users) >= c.max {
			for k := range c.users { // drop about a tenth, whichever come first
				delete(c.users, k)
				if len(c.users) < c.max-c.max/10 {
					break
				}
			}
		}
		c.users[cid] = userEntry{user: u.State(), until: now.Add(c.ttl)}
	}
	return u, nil
}

// keep caches what was read since epoch start, unless anything was
// invalidated meanwhile or the session is over: only sessions in use are
// worth keeping, and one that ended stays ended.
func (c *Store) keep(start uint64, sess domain.Session, u *domain.User, now time.Time) {
	if !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) {
		return
	}
	until := now.Add(c.ttl)
	if sess.ExpiresAt.Before(until) {
		until = sess.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != start || !c.live.Load() {
		return
	}
	if len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[sess.ID] = entry{session: sess, user: u.State(), until: until}
	ids := c.byUser[u.ID()]
	if ids == nil {
		ids = map[string]struct{}{}
		c.byUser[u.ID()] = ids
	}
	ids[sess.ID] = struct{}{}
}

// evict drops about a tenth of the entries, whichever the map yields
// first. The caller holds mu.
func (c *Store) evict() {
	n := max(c.max/10, 1)
	for sid, e := range c.entries {
		delete(c.entries, sid)
		if ids := c.byUser[e.user.ID]; ids != nil {
			delete(ids, sid)
			if len(ids) == 0 {
				delete(c.byUser, e.user.ID)
			}
		}
		if n--; n == 0 {
			return
		}
	}
}

// The user changes drop the user's entries when they return, committed or
// not (a failed commit may still have committed): the next request on
// this instance reads the user again.

// UpdateUser implements ports.UserStore.
func (c *Store) UpdateUser(ctx context.Context, id string, fn func(u *domain.User) error) error {
	defer c.Invalidate(id)
	return c.UserStore.UpdateUser(ctx, id, fn)
}

// UpdateUserByEmail implements ports.UserStore.
func (c *Store) UpdateUserByEmail(ctx context.Context, email string, fn func(u *domain.User) error) error {
	var id string
	defer func() {
		if id != "" {
			c.Invalidate(id)
		}
	}()
	return c.UserStore.UpdateUserByEmail(ctx, email, func(u *domain.User) error {
		id = u.ID()
		return fn(u)
	})
}

// UpdateUserCountingAdmins implements ports.UserStore.
func (c *Store) UpdateUserCountingAdmins(ctx context.Context, id string, fn func(u *domain.User, admins int) error) error {
	defer c.Invalidate(id)
	return c.UserStore.UpdateUserCountingAdmins(ctx, id, fn)
}

// DeleteUser implements ports.UserStore.
func (c *Store) DeleteUser(ctx context.Context, id string, check func(u *domain.User, admins int) error) error {
	defer c.Invalidate(id)
	return c.UserStore.DeleteUser(ctx, id, check)
}

// RotateRefreshToken implements ports.SessionStore. A reused token revokes
// its session: its user's entries go too.
func (c *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time,
	renew func(domain.Session, *domain.User) (domain.Session, error)) (domain.Session, *domain.User, error) {
	sess, u, err := c.SessionStore.RotateRefreshToken(ctx, oldHash, newHash, now, renew)
	if errors.Is(err, domain.ErrRefreshTokenReused) {
		if revoked, lerr := c.SessionByRefreshHash(ctx, oldHash); lerr == nil {
			c.Invalidate(revoked.UserID)
		} else {
			c.InvalidateAll() // cannot tell whose: drop everything rather than trust it
		}
	}
	return sess, u, err
}
