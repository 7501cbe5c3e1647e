package authcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/authcache"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// counting counts the store's authentication reads and can act during one.
type counting struct {
	ports.SessionStore
	reads  atomic.Int64
	during atomic.Pointer[func()]
}

func (c *counting) SessionWithUser(ctx context.Context, id string) (domain.Session, *domain.User, error) {
	c.reads.Add(1)
	s, u, err := c.SessionStore.SessionWithUser(ctx, id)
	if f := c.during.Load(); f != nil {
		(*f)()
	}
	return s, u, err
}

type fixture struct {
	mem   *memory.UserStore
	inner *counting
	cache *authcache.Store
	clock *testsupport.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{mem: memory.NewUserStore(), clock: testsupport.NewClock(t0)}
	f.inner = &counting{SessionStore: f.mem}
	c, err := authcache.New(f.mem, f.inner, authcache.Options{TTL: time.Minute, MaxEntries: 100, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.SetLive(true)
	f.cache = c
	return f
}

// user creates a user with an open session and returns both ids.
func (f *fixture) user(t *testing.T, name string) (userID, sessionID string) {
	t.Helper()
	u, err := domain.NewUser(domain.NewUserParams{ID: uuid.NewString(), Email: name + "@example.com", Nickname: name, PasswordHash: "h", Role: domain.RoleAuthenticated, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	s := domain.NewSession(uuid.NewString(), t0, domain.SessionPolicy{TTL: time.Hour}, "", "")
	u.OpenSession(s, "refresh-"+name)
	if err := f.mem.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u.ID(), s.ID
}

func (f *fixture) read(t *testing.T, sessionID string) (domain.Session, *domain.User) {
	t.Helper()
	s, u, err := f.cache.SessionWithUser(context.Background(), sessionID)
	if err != nil {
		t.Fatalf("SessionWithUser: %v", err)
	}
	return s, u
}

func (f *fixture) wantReads(t *testing.T, want int64) {
	t.Helper()
	if got := f.inner.reads.Load(); got != want {
		t.Errorf("%d reads reached the store, want %d", got, want)
	}
}

func TestHitsNeedNoQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	uid, sid := f.user(t, "alice")
	for range 5 {
		s, u := f.read(t, sid)
		if s.ID != sid || u.ID() != uid {
			t.Fatalf("read %s of %s", s.ID, u.ID())
		}
	}
	f.wantReads(t, 1)
	if hits, misses := f.cache.Stats(); hits != 4 || misses != 1 {
		t.Errorf("stats %d hits, %d misses; want 4, 1", hits, misses)
	}
	// Each caller gets a user of its own.
	_, a := f.read(t, sid)
	_, b := f.read(t, sid)
	if a == b {
		t.Error("two reads share one *domain.User")
	}
}

// A change through the cache is seen by the very next read: logout,
// demotion, deletion, a change by email.
func TestLocalChangesAreSeenAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	uid, sid := f.user(t, "alice")
	f.read(t, sid)
	if err := f.cache.UpdateUser(ctx, uid, func(u *domain.User) error { u.EndSession(sid, t0); return nil }); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.read(t, sid); s.RevokedAt.IsZero() {
		t.Error("a logout through the cache is not seen by the next read")
	}

	uid2, sid2 := f.user(t, "bob")
	f.read(t, sid2)
	if err := f.cache.UpdateUserByEmail(ctx, "bob@example.com", func(u *domain.User) error {
		u.SetRole(domain.RoleManager, t0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, u := f.read(t, sid2); s.ValidFor(u, t0) {
		t.Error("a demotion by email through the cache is not seen by the next read")
	}

	uid3, sid3 := f.user(t, "carol")
	f.read(t, sid3)
	if err := f.cache.UpdateUserCountingAdmins(ctx, uid3, func(u *domain.User, _ int) error {
		u.LockByStaff(t0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, u := f.read(t, sid3); s.ValidFor(u, t0) {
		t.Error("a staff lock through the cache is not seen by the next read")
	}

	f.read(t, sid2)
	if err := f.cache.DeleteUser(ctx, uid2, func(*domain.User, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.cache.SessionWithUser(ctx, sid2); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("a deleted user's session: %v, want ErrSessionNotFound", err)
	}
	_ = uid
}

// A read that started before a change and ends after it must not be kept.
func TestAReadRacingAChangeIsNotKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	uid, sid := f.user(t, "alice")
	change := func() { f.cache.Invalidate(uid) }
	f.inner.during.Store(&change)
	f.read(t, sid) // the read's answer is from before the invalidation
	f.inner.during.Store(nil)
	f.read(t, sid)
	f.wantReads(t, 2)
}

// Changes made elsewhere arrive through Invalidate; while the feed is not
// live every read goes to the store; becoming live forgets everything.
func TestTheFeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	uid, sid := f.user(t, "alice")
	f.read(t, sid)
	f.cache.Invalidate(uid)
	f.read(t, sid)
	f.wantReads(t, 2)

	f.cache.SetLive(false)
	f.read(t, sid)
	f.read(t, sid)
	f.wantReads(t, 4)
	f.cache.SetLive(true)
	f.read(t, sid)
	f.read(t, sid)
	f.wantReads(t, 5)
	f.cache.InvalidateAll()
	f.read(t, sid)
	f.wantReads(t, 6)
}

// Entries live TTL, and never past their session's end; ended sessions are
// not kept.
func TestEntriesExpire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, sid := f.user(t, "alice")
	f.read(t, sid)
	f.clock.Advance(59 * time.Second)
	f.read(t, sid)
	f.wantReads(t, 1)
	f.clock.Advance(time.Second)
	f.read(t, sid)
	f.wantReads(t, 2)
	// The session ends at t0+1h: near its end the entry lasts only to it.
	f.clock.Advance(time.Hour - 90*time.Second)
	f.read(t, sid)
	f.clock.Advance(30 * time.Second)
	if s, _ := f.read(t, sid); s.Active(f.clock.Now()) {
		t.Error("an expired session was served as active")
	}
	f.wantReads(t, 4)
}

func TestReusedRefreshTokenDropsTheUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, sid := f.user(t, "alice")
	renew := func(s domain.Session, _ *domain.User) (domain.Session, error) { return s, nil }
	if _, _, err := f.cache.RotateRefreshToken(ctx, "refresh-alice", "next", t0, renew); err != nil {
		t.Fatal(err)
	}
	f.read(t, sid)
	if _, _, err := f.cache.RotateRefreshToken(ctx, "refresh-alice", "again", t0, renew); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Fatalf("reuse: %v", err)
	}
	if s, _ := f.read(t, sid); s.RevokedAt.IsZero() {
		t.Error("a session revoked by reuse is still served as active")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var sids []string
	for i := range 150 {
		_, sid := f.user(t, fmt.Sprintf("user_%03d", i))
		sids = append(sids, sid)
		f.read(t, sid)
	}
	before := f.inner.reads.Load()
	for _, sid := range sids {
		f.read(t, sid)
	}
	if misses := f.inner.reads.Load() - before; misses < 50 {
		t.Errorf("%d of 150 entries missed after filling a cache of 100, want at least 50", misses)
	}
}

// Readers and writers at once: no data race, and after the writers stop
// every session reads as the store has it.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	type acct struct{ uid, sid string }
	var accts []acct
	for i := range 8 {
		uid, sid := f.user(t, fmt.Sprintf("conc_%d", i))
		accts = append(accts, acct{uid, sid})
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			a := accts[i%len(accts)]
			for j := range 200 {
				if j%50 == 0 && i%4 == 0 {
					_ = f.cache.UpdateUser(ctx, a.uid, func(u *domain.User) error {
						u.SetRole(domain.RoleManager, t0)
						return nil
					})
					continue
				}
				if _, _, err := f.cache.SessionWithUser(ctx, a.sid); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, a := range accts {
		s, u := f.read(t, a.sid)
		want, wu, _ := f.mem.SessionWithUser(ctx, a.sid)
		if s.ValidFor(u, t0) != want.ValidFor(wu, t0) || u.Role() != wu.Role() {
			t.Errorf("session %s reads valid=%v role=%v, the store has valid=%v role=%v",
				a.sid, s.ValidFor(u, t0), u.Role(), want.ValidFor(wu, t0), wu.Role())
		}
	}
}

// Users read by id are cached too, and dropped by the same changes.
func TestUsersByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	reads := &countingUsers{UserStore: f.mem}
	c, err := authcache.New(reads, f.inner, authcache.Options{TTL: time.Minute, MaxEntries: 100, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.SetLive(true)
	uid, _ := f.user(t, "alice")
	for range 3 {
		u, err := c.UserByID(ctx, uid)
		if err != nil || u.ID() != uid {
			t.Fatalf("UserByID = %v, %v", u, err)
		}
	}
	if n := reads.reads.Load(); n != 1 {
		t.Errorf("%d reads reached the store, want 1", n)
	}
	if err := c.UpdateUser(ctx, uid, func(u *domain.User) error { return u.ChangeNickname("renamed", t0) }); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.UserByID(ctx, uid); u.Nickname() != "renamed" {
		t.Errorf("after a change through the cache the user reads %q", u.Nickname())
	}
	c.Invalidate(uid)
	c.UserByID(ctx, uid)
	if n := reads.reads.Load(); n != 3 {
		t.Errorf("%d reads reached the store, want 3 (after the change and after the invalidation)", n)
	}
	if _, err := c.UserByID(ctx, "00000000-0000-4000-8000-000000000999"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("an unknown user: %v", err)
	}
	c.SetLive(false)
	c.UserByID(ctx, uid)
	c.UserByID(ctx, uid)
	if n := reads.reads.Load(); n != 6 {
		t.Errorf("%d reads reached the store, want 6 (not live: every read)", n)
	}
}

// countingUsers counts UserByID.
type countingUsers struct {
	ports.UserStore
	reads atomic.Int64
}

func (c *countingUsers) UserByID(ctx context.Context, id string) (*domain.User, error) {
	c.reads.Add(1)
	return c.UserStore.UserByID(ctx, id)
}
