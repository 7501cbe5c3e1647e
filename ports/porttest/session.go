package porttest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// SessionStoreUnderTest is a user store that also keeps sessions: a session
// references its user, is opened and ended by user changes, and goes when
// the user is deleted.
type SessionStoreUnderTest interface {
	ports.UserStore
	ports.SessionStore
}

// SessionStore runs the ports.SessionStore contract, and the session
// changes users record (ports.UserStore), as named subtests. newStore must
// return an empty store that no other subtest uses; it may register cleanup
// on t.
//
// Beyond the ports' comments, the suite requires that session changes are
// saved with the user change that records them or not at all, that a
// session goes with its user on DeleteUser, that a reused token is reported
// as reused even once its session has ended, and that stores keep times to
// the microsecond.
func SessionStore(t *testing.T, newStore func(t *testing.T) SessionStoreUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s SessionStoreUnderTest)
	}{
		{"OpenAndFind", testSessionOpenAndFind},
		{"OpenIsAtomicWithTheUser", testSessionOpenAtomic},
		{"RotateHappyPath", testSessionRotate},
		{"RenewRefusalChangesNothing", testSessionRenewRefused},
		{"ReuseRevokesSession", testSessionReuse},
		{"UnknownTokenIsInvalid", testSessionUnknownToken},
		{"EndSession", testSessionEnd},
		{"EndOtherSessions", testSessionEndOthers},
		{"ListSessions", testSessionList},
		{"DeleteUserRemovesSessions", testSessionDeleteUser},
		{"ConcurrentRotationsOneWins", testSessionConcurrentRotation},
		{"OpenedAtTheUsersVersion", testSessionUserVersion},
		{"SecondFactorKept", testSessionSecondFactor},
		{"CancelledContext", testSessionCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// sessionPolicy is the suite's usual session lifetime.
var sessionPolicy = domain.SessionPolicy{TTL: 24 * time.Hour, MaxAge: 90 * 24 * time.Hour}

// newSessionUser creates a user for sessions.
func newSessionUser(tb testing.TB, s SessionStoreUnderTest) *domain.User {
	tb.Helper()
	u := newUser(tb, uniqueNickname("s")+"@example.com", uniqueNickname("s"), domain.RoleAuthenticated, epoch)
	mustCreate(tb, s, u)
	return u
}

// openSession opens a session of u (a new user if nil) at at, with the
// refresh token hash, through a user change, and returns it as stored.
func openSession(tb testing.TB, s SessionStoreUnderTest, u *domain.User, hash string, at time.Time) domain.Session {
	tb.Helper()
	if u == nil {
		u = newSessionUser(tb, s)
	}
	sess := domain.NewSession(uuid.NewString(), at, sessionPolicy, "203.0.113.7", "Mozilla/5.0 (test)")
	if err := s.UpdateUser(context.Background(), u.ID(), func(cur *domain.User) error {
		cur.OpenSession(sess, hash)
		sess.UserID, sess.UserVersion = cur.ID(), cur.TokenVersion()
		return nil
	}); err != nil {
		tb.Fatalf("UpdateUser(OpenSession): %v", err)
	}
	return sess
}

// sessionByID reads a session through SessionWithUser.
func sessionByID(tb testing.TB, s SessionStoreUnderTest, id string) domain.Session {
	tb.Helper()
	sess, _, err := s.SessionWithUser(context.Background(), id)
	if err != nil {
		tb.Fatalf("SessionWithUser(%s): %v", id, err)
	}
	return sess
}

// renewAt is the usual renew of a refresh at now: an active session lives on.
func renewAt(now time.Time) func(domain.Session, *domain.User) (domain.Session, error) {
	return func(sess domain.Session, u *domain.User) (domain.Session, error) {
		if !sess.ValidFor(u, now) {
			return domain.Session{}, domain.ErrInvalidRefreshToken
		}
		sess.Renew(now, sessionPolicy)
		return sess, nil
	}
}

// change runs a user change that only touches sessions.
func change(tb testing.TB, s SessionStoreUnderTest, userID string, fn func(u *domain.User)) {
	tb.Helper()
	if err := s.UpdateUser(context.Background(), userID, func(u *domain.User) error { fn(u); return nil }); err != nil {
		tb.Fatalf("UpdateUser: %v", err)
	}
}

func testSessionOpenAndFind(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := openSession(t, s, nil, "hash-1", epoch)
	openSession(t, s, nil, "hash-other", epoch) // another session, not to be returned

	got, u, err := s.SessionWithUser(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionWithUser: %v", err)
	}
	assertSession(t, got, sess)
	assertSameState(t, u.State(), mustGet(t, s, sess.UserID).State())
	if got.IP != "203.0.113.7" || got.UserAgent != "Mozilla/5.0 (test)" || !sameTime(got.LastUsedAt, epoch) {
		t.Errorf("session metadata: ip %q, user agent %q, last used %v", got.IP, got.UserAgent, got.LastUsedAt)
	}
	got, err = s.SessionByRefreshHash(ctx, "hash-1")
	if err != nil {
		t.Fatalf("SessionByRefreshHash: %v", err)
	}
	assertSession(t, got, sess)

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if _, _, err := s.SessionWithUser(ctx, id); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionWithUser(%q) error = %v, want ErrSessionNotFound", id, err)
		}
	}
	for _, h := range []string{"hash-2", ""} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%q) error = %v, want ErrSessionNotFound", h, err)
		}
	}
}

func testSessionOpenAtomic(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	taken := openSession(t, s, u, "taken-hash", epoch)
	before := mustGet(t, s, u.ID()).State()
	later := epoch.Add(time.Hour)
	fresh := func() domain.Session { return domain.NewSession(uuid.NewString(), later, sessionPolicy, "", "") }

	for _, tc := range []struct {
		name  string
		open  func(cur *domain.User)
		wantE error
	}{
		{"a session id in use", func(cur *domain.User) {
			dup := fresh()
			dup.ID = taken.ID
			cur.OpenSession(dup, "h-dup-id")
		}, domain.ErrConflict},
		{"a refresh hash in use", func(cur *domain.User) { cur.OpenSession(fresh(), "taken-hash") }, domain.ErrConflict},
		{"no refresh hash", func(cur *domain.User) { cur.OpenSession(fresh(), "") }, domain.ErrInvalid},
		{"an id that is not a UUID", func(cur *domain.User) {
			bad := fresh()
			bad.ID = "not-a-uuid"
			cur.OpenSession(bad, "h-bad-id")
		}, domain.ErrInvalid},
	} {
		// The same change also ends every other session and edits the user:
		// none of it may be saved.
		err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			cur.UpgradeToProfessional(later)
			cur.EndOtherSessions("", later)
			tc.open(cur)
			return nil
		})
		if !errors.Is(err, tc.wantE) {
			t.Errorf("opening a session with %s: error = %v, want one wrapping %v", tc.name, err, tc.wantE)
		}
	}
	// A change whose fn fails saves none of its session changes either.
	errBoom := errors.New("boom")
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.OpenSession(fresh(), "h-rolled-back")
		cur.EndOtherSessions("", later)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser with a failing fn: error = %v, want its error", err)
	}
	// A change whose user write fails (a taken nickname) neither.
	other := newUser(t, "taken.nick@example.com", "taken_nick", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, other)
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.OpenSession(fresh(), "h-dup-nick")
		cur.EndOtherSessions("", later)
		return cur.ChangeNickname("TAKEN_NICK", later)
	}); !errors.Is(err, domain.ErrNicknameTaken) {
		t.Errorf("UpdateUser to a taken nickname: error = %v, want ErrNicknameTaken", err)
	}
	assertUser(t, s, before)
	for _, h := range []string{"h-dup-id", "h-bad-id", "h-rolled-back", "h-dup-nick"} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%q) after a failed change: error = %v, want ErrSessionNotFound", h, err)
		}
	}
	assertSession(t, sessionByID(t, s, taken.ID), taken) // not ended
}

func testSessionRotate(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := openSession(t, s, nil, "r1", epoch)
	now := epoch.Add(time.Hour)

	var seen domain.Session
	var seenUser *domain.User
	got, u, err := s.RotateRefreshToken(ctx, "r1", "r2", now, func(cur domain.Session, cu *domain.User) (domain.Session, error) {
		seen, seenUser = cur, cu
		return renewAt(now)(cur, cu)
	})
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	assertSession(t, seen, sess) // renew saw the session as stored
	if seenUser == nil || seenUser.ID() != sess.UserID || u.ID() != sess.UserID {
		t.Errorf("renew and the result got user %v and %v, want %s", seenUser, u, sess.UserID)
	}
	want := sess
	want.LastUsedAt, want.ExpiresAt = now, now.Add(sessionPolicy.TTL)
	assertSession(t, got, want)
	assertSession(t, sessionByID(t, s, sess.ID), want)
	// Both tokens still name the session, rotated or not.
	for _, h := range []string{"r1", "r2"} {
		if got, err := s.SessionByRefreshHash(ctx, h); err != nil {
			t.Errorf("SessionByRefreshHash(%s): %v", h, err)
		} else {
			assertSession(t, got, want)
		}
	}

	// The new token works, and so does the one after it.
	later := now.Add(time.Hour)
	got, _, err = s.RotateRefreshToken(ctx, "r2", "r3", later, renewAt(later))
	if err != nil {
		t.Fatalf("RotateRefreshToken with the new token: %v", err)
	}
	want.LastUsedAt, want.ExpiresAt = later, later.Add(sessionPolicy.TTL)
	assertSession(t, got, want)

	// Only what a refresh may change is saved from renew.
	if _, _, err := s.RotateRefreshToken(ctx, "r3", "r4", later, func(cur domain.Session, _ *domain.User) (domain.Session, error) {
		cur.RevokedAt, cur.UserVersion, cur.IP = later, 99, "198.51.100.1"
		cur.Renew(later, sessionPolicy)
		return cur, nil
	}); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	assertSession(t, sessionByID(t, s, sess.ID), want)

	// The old token is spent: it comes back as reused.
	if _, _, err := s.RotateRefreshToken(ctx, "r1", "r5", later, renewAt(later)); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Errorf("RotateRefreshToken with the first token again: error = %v, want ErrRefreshTokenReused", err)
	}
}

func testSessionRenewRefused(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := openSession(t, s, nil, "e1", epoch)
	end := sess.ExpiresAt
	// Expiry is exclusive: at ExpiresAt the session is over.
	for _, now := range []time.Time{end, end.Add(time.Hour)} {
		if _, _, err := s.RotateRefreshToken(ctx, "e1", "e2", now, renewAt(now)); !isInvalidNotReused(err) {
			t.Errorf("RotateRefreshToken at %v of a session expiring %v: error = %v, want ErrInvalidRefreshToken", now, end, err)
		}
	}
	errBoom := errors.New("boom")
	if _, _, err := s.RotateRefreshToken(ctx, "e1", "e2", epoch, func(domain.Session, *domain.User) (domain.Session, error) {
		return domain.Session{}, errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("RotateRefreshToken with a failing renew: error = %v, want its error", err)
	}
	assertSession(t, sessionByID(t, s, sess.ID), sess) // unchanged: neither renewed nor revoked
	if _, err := s.SessionByRefreshHash(ctx, "e2"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("a refused rotation saved its new hash: error = %v", err)
	}
	// The token was not spent: just before the end it still works.
	just := end.Add(-time.Microsecond)
	if _, _, err := s.RotateRefreshToken(ctx, "e1", "e2", just, renewAt(just)); err != nil {
		t.Errorf("RotateRefreshToken just before expiry: %v", err)
	}
}

func testSessionReuse(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := openSession(t, s, nil, "u1", epoch)
	other := openSession(t, s, nil, "other-1", epoch) // untouched by the reuse
	now := epoch.Add(time.Hour)
	if _, _, err := s.RotateRefreshToken(ctx, "u1", "u2", now, renewAt(now)); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	reusedAt := now.Add(time.Minute)
	if _, _, err := s.RotateRefreshToken(ctx, "u1", "u3", reusedAt, renewAt(reusedAt)); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Fatalf("RotateRefreshToken with a rotated token: error = %v, want ErrRefreshTokenReused", err)
	}
	if got := sessionByID(t, s, sess.ID); !sameTime(got.RevokedAt, reusedAt) {
		t.Errorf("after reuse RevokedAt = %v, want the reuse time %v", got.RevokedAt, reusedAt)
	}
	// Even the newest token no longer works: renew sees the session ended.
	if _, _, err := s.RotateRefreshToken(ctx, "u2", "u4", reusedAt, renewAt(reusedAt)); !isInvalidNotReused(err) {
		t.Errorf("RotateRefreshToken with the newest token of a revoked session: error = %v, want ErrInvalidRefreshToken (not reused)", err)
	}
	if _, err := s.SessionByRefreshHash(ctx, "u3"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("the failed rotations saved their new hash: SessionByRefreshHash error = %v", err)
	}
	// A second reuse keeps the first revocation time.
	if _, _, err := s.RotateRefreshToken(ctx, "u1", "u5", reusedAt.Add(time.Hour), renewAt(reusedAt)); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Errorf("second reuse: error = %v, want ErrRefreshTokenReused", err)
	}
	if got := sessionByID(t, s, sess.ID); !sameTime(got.RevokedAt, reusedAt) {
		t.Errorf("after a second reuse: RevokedAt = %v, want %v", got.RevokedAt, reusedAt)
	}
	if got := sessionByID(t, s, other.ID); !got.RevokedAt.IsZero() {
		t.Errorf("another session: RevokedAt = %v, want it active", got.RevokedAt)
	}
}

func testSessionUnknownToken(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := openSession(t, s, nil, "known", epoch)
	for _, h := range []string{"unknown", "KNOWN", ""} {
		called := false
		if _, _, err := s.RotateRefreshToken(ctx, h, "next-"+h, epoch, func(cur domain.Session, u *domain.User) (domain.Session, error) {
			called = true
			return cur, nil
		}); !isInvalidNotReused(err) || called {
			t.Errorf("RotateRefreshToken(%q): error = %v, renew called %v; want ErrInvalidRefreshToken (not reused), not called", h, err, called)
		}
	}
	assertSession(t, sessionByID(t, s, sess.ID), sess)
}

func testSessionEnd(t *testing.T, s SessionStoreUnderTest) {
	u := newSessionUser(t, s)
	sess := openSession(t, s, u, "k1", epoch)
	kept := openSession(t, s, u, "k2", epoch)
	theirs := openSession(t, s, nil, "k3", epoch)
	first := epoch.Add(time.Minute)
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndSession(sess.ID, first) })
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndSession(sess.ID, first.Add(time.Hour)) })
	want := sess
	want.RevokedAt = first
	got := sessionByID(t, s, sess.ID)
	assertSession(t, got, want)
	if got.Active(first) {
		t.Error("an ended session is still active")
	}
	// Ending another user's session, or one that does not exist, changes nothing.
	change(t, s, u.ID(), func(cur *domain.User) {
		cur.EndSession(theirs.ID, first)
		cur.EndSession(uuid.NewString(), first)
		cur.EndSession("not-a-uuid", first)
	})
	assertSession(t, sessionByID(t, s, theirs.ID), theirs)
	assertSession(t, sessionByID(t, s, kept.ID), kept)
	if _, _, err := s.RotateRefreshToken(t.Context(), "k1", "k1-next", first, renewAt(first)); !isInvalidNotReused(err) {
		t.Errorf("RotateRefreshToken of an ended session: error = %v, want ErrInvalidRefreshToken", err)
	}
}

func testSessionEndOthers(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	other := newSessionUser(t, s)
	keep := openSession(t, s, u, "keep", epoch)
	a := openSession(t, s, u, "a", epoch)
	b := openSession(t, s, u, "b", epoch)
	ended := openSession(t, s, u, "ended", epoch)
	expired := openSession(t, s, u, "expired", epoch.Add(-48*time.Hour)) // expired a day before epoch
	theirs := openSession(t, s, other, "theirs", epoch)
	earlier := epoch.Add(time.Minute)
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndSession(ended.ID, earlier) })

	now := epoch.Add(time.Hour)
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndOtherSessions(keep.ID, now) })
	for _, sess := range []domain.Session{a, b} {
		if got := sessionByID(t, s, sess.ID); !sameTime(got.RevokedAt, now) {
			t.Errorf("session %s: RevokedAt = %v, want %v", sess.ID, got.RevokedAt, now)
		}
	}
	if got := sessionByID(t, s, ended.ID); !sameTime(got.RevokedAt, earlier) {
		t.Errorf("an already ended session: RevokedAt = %v, want its first %v", got.RevokedAt, earlier)
	}
	if got := sessionByID(t, s, expired.ID); !got.RevokedAt.IsZero() {
		t.Errorf("an expired session was revoked at %v; only active ones are", got.RevokedAt)
	}
	for _, sess := range []domain.Session{keep, theirs} {
		if got := sessionByID(t, s, sess.ID); !got.Active(now) {
			t.Errorf("session %s was ended; want it kept", sess.ID)
		}
	}

	later := now.Add(time.Minute)
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndOtherSessions("", later) })
	if got := sessionByID(t, s, keep.ID); !sameTime(got.RevokedAt, later) {
		t.Errorf("kept session after ending all: RevokedAt = %v, want %v", got.RevokedAt, later)
	}
	if got := sessionByID(t, s, theirs.ID); !got.Active(later) {
		t.Error("another user's session was ended")
	}
	if got, err := s.ListSessions(ctx, u.ID(), later); err != nil || len(got) != 0 {
		t.Errorf("ListSessions after ending all = %v, %v; want none", got, err)
	}
}

func testSessionList(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	old := openSession(t, s, u, "l-old", epoch)
	mid := openSession(t, s, u, "l-mid", epoch.Add(time.Minute))
	newest := openSession(t, s, u, "l-new", epoch.Add(2*time.Minute))
	gone := openSession(t, s, u, "l-ended", epoch.Add(3*time.Minute))
	openSession(t, s, u, "l-expired", epoch.Add(-48*time.Hour))
	openSession(t, s, nil, "l-theirs", epoch.Add(4*time.Minute))
	now := epoch.Add(time.Hour)
	change(t, s, u.ID(), func(cur *domain.User) { cur.EndSession(gone.ID, now) })

	got, err := s.ListSessions(ctx, u.ID(), now)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	want := []domain.Session{newest, mid, old}
	if len(got) != len(want) {
		t.Fatalf("ListSessions = %d sessions, want %d (newest first, active only)", len(got), len(want))
	}
	for i := range want {
		assertSession(t, got[i], want[i])
	}
	// A change that ends every session (a new token version) empties it.
	change(t, s, u.ID(), func(cur *domain.User) { cur.SetRole(domain.RoleManager, now) })
	if got, err := s.ListSessions(ctx, u.ID(), now); err != nil || len(got) != 0 {
		t.Errorf("ListSessions after the token version moved = %d sessions, %v; want none", len(got), err)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		if got, err := s.ListSessions(ctx, id, now); err != nil || len(got) != 0 {
			t.Errorf("ListSessions(%q) = %v, %v; want none, nil", id, got, err)
		}
	}
}

func testSessionDeleteUser(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	one := openSession(t, s, u, "d1", epoch)
	two := openSession(t, s, u, "d2", epoch)
	theirs := openSession(t, s, nil, "staying", epoch)
	// A rotated token too, so more than one token row goes.
	at := epoch.Add(time.Minute)
	if _, _, err := s.RotateRefreshToken(ctx, "d1", "d1-next", at, renewAt(at)); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { return nil }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, id := range []string{one.ID, two.ID} {
		if _, _, err := s.SessionWithUser(ctx, id); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionWithUser of a deleted user's session: error = %v, want ErrSessionNotFound", err)
		}
	}
	later := epoch.Add(time.Hour)
	for _, h := range []string{"d1", "d1-next", "d2"} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%s) of a deleted user: error = %v, want ErrSessionNotFound", h, err)
		}
		if _, _, err := s.RotateRefreshToken(ctx, h, h+"-again", later, renewAt(later)); !isInvalidNotReused(err) {
			t.Errorf("RotateRefreshToken(%s) of a deleted user: error = %v, want ErrInvalidRefreshToken", h, err)
		}
	}
	assertSession(t, sessionByID(t, s, theirs.ID), theirs)
	// A rolled-back delete keeps the sessions.
	errBoom := errors.New("boom")
	if err := s.DeleteUser(ctx, theirs.UserID, func(*domain.User, int) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("DeleteUser with a failing check: error = %v, want the check's error", err)
	}
	if _, err := s.SessionByRefreshHash(ctx, "staying"); err != nil {
		t.Errorf("session after a rolled-back DeleteUser: %v", err)
	}
}

func testSessionConcurrentRotation(t *testing.T, s SessionStoreUnderTest) {
	const n = 20
	sess := openSession(t, s, nil, "race", epoch)
	now := epoch.Add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	winner := -1
	errs := runConcurrently(n, func(i int) error {
		_, _, err := s.RotateRefreshToken(ctx, "race", fmt.Sprintf("race-%d", i), now, renewAt(now))
		return err
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = i
		case !errors.Is(err, domain.ErrInvalidRefreshToken): // ErrRefreshTokenReused wraps it
			t.Errorf("rotation %d: unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token succeeded, want exactly 1", wins, n)
	}
	if got := sessionByID(t, s, sess.ID); got.RevokedAt.IsZero() {
		t.Error("after concurrent reuse of one token the session is still active, want it revoked")
	}
	// The winner's token belongs to the revoked session: it is no use.
	if _, _, err := s.RotateRefreshToken(t.Context(), fmt.Sprintf("race-%d", winner), "after", now, renewAt(now)); !isInvalidNotReused(err) {
		t.Errorf("the winner's new token after the reuse: error = %v, want ErrInvalidRefreshToken (not reused)", err)
	}
	for i := range n {
		if i == winner {
			continue
		}
		if _, err := s.SessionByRefreshHash(t.Context(), fmt.Sprintf("race-%d", i)); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("a losing rotation saved its new hash race-%d: error = %v", i, err)
		}
	}
}

func testSessionUserVersion(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	change(t, s, u.ID(), func(cur *domain.User) { cur.SetRole(domain.RoleManager, epoch) })
	change(t, s, u.ID(), func(cur *domain.User) { cur.SetRole(domain.RoleAuthenticated, epoch) })
	sess := openSession(t, s, mustGet(t, s, u.ID()), "hash-v", epoch)
	if sess.UserVersion != 2 {
		t.Fatalf("opened at version %d, want the user's 2", sess.UserVersion)
	}
	got, cur, err := s.SessionWithUser(ctx, sess.ID)
	if err != nil || got.UserVersion != 2 || !got.ValidFor(cur, epoch) {
		t.Fatalf("SessionWithUser = %+v, %v; want UserVersion 2, valid for its user", got, err)
	}
	at := epoch.Add(time.Minute)
	rotated, _, err := s.RotateRefreshToken(ctx, "hash-v", "hash-v2", at, renewAt(at))
	if err != nil || rotated.UserVersion != 2 {
		t.Fatalf("rotation returned %+v, %v; want UserVersion 2", rotated, err)
	}
	// A change that ends every session: the session is no longer valid.
	change(t, s, u.ID(), func(cur *domain.User) { cur.LockByStaff(at) })
	got, cur, err = s.SessionWithUser(ctx, sess.ID)
	if err != nil || got.ValidFor(cur, at) {
		t.Errorf("after a staff lock: SessionWithUser = %+v (%v), want it no longer valid for its user", got, err)
	}
}

func testSessionCancelledContext(t *testing.T, s SessionStoreUnderTest) {
	sess := openSession(t, s, nil, "c1", epoch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", method)
		} else if errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalidRefreshToken) {
			t.Errorf("%s with a cancelled context: error = %v, must be neither not-found nor invalid", method, err)
		}
	}
	check("UpdateUser(OpenSession)", s.UpdateUser(ctx, sess.UserID, func(cur *domain.User) error {
		cur.OpenSession(domain.NewSession(uuid.NewString(), epoch, sessionPolicy, "", ""), "c-other")
		return nil
	}))
	_, _, err := s.RotateRefreshToken(ctx, "c1", "c2", epoch, renewAt(epoch))
	check("RotateRefreshToken", err)
	_, _, err = s.SessionWithUser(ctx, sess.ID)
	check("SessionWithUser", err)
	_, err = s.SessionByRefreshHash(ctx, "c1")
	check("SessionByRefreshHash", err)
	_, err = s.ListSessions(ctx, sess.UserID, epoch)
	check("ListSessions", err)

	// Nothing changed.
	assertSession(t, sessionByID(t, s, sess.ID), sess)
	if _, err := s.SessionByRefreshHash(t.Context(), "c-other"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("session opened under a cancelled context: error = %v, want ErrSessionNotFound", err)
	}
	if _, _, err := s.RotateRefreshToken(t.Context(), "c1", "c2", epoch, renewAt(epoch)); err != nil {
		t.Errorf("RotateRefreshToken after the cancelled calls: %v", err)
	}
}

// isInvalidNotReused reports whether err is ErrInvalidRefreshToken but not
// its special case ErrRefreshTokenReused.
func isInvalidNotReused(err error) bool {
	return errors.Is(err, domain.ErrInvalidRefreshToken) && !errors.Is(err, domain.ErrRefreshTokenReused)
}

// sameTime compares times at the microsecond precision stores keep.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// assertSession compares sessions with times at microsecond precision, and
// requires stored times to come back in UTC.
func assertSession(tb testing.TB, got, want domain.Session) {
	tb.Helper()
	for _, tm := range []time.Time{got.CreatedAt, got.LastUsedAt, got.ExpiresAt, got.RevokedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			tb.Errorf("session %s: time %v is not in UTC", got.ID, tm)
		}
	}
	if diff := gocmp.Diff(want, got, gocmp.Comparer(sameTime)); diff != "" {
		tb.Errorf("session %s (-want +got):\n%s", want.ID, diff)
	}
}

// testSessionSecondFactor: how a login proved its user is kept with the
// session, read back with it, and survives a refresh.
func testSessionSecondFactor(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newSessionUser(t, s)
	plain := openSession(t, s, u, "pwd-only", epoch)
	sess := domain.NewSession(uuid.NewString(), epoch, sessionPolicy, "203.0.113.8", "Authenticator (test)")
	sess.SecondFactor = true
	change(t, s, u.ID(), func(cur *domain.User) {
		cur.OpenSession(sess, "with-otp")
		sess.UserID, sess.UserVersion = cur.ID(), cur.TokenVersion()
	})

	assertSession(t, sessionByID(t, s, sess.ID), sess)
	assertSession(t, sessionByID(t, s, plain.ID), plain)
	if got := sessionByID(t, s, plain.ID); got.SecondFactor {
		t.Error("a password-only session came back with a second factor")
	}
	now := epoch.Add(time.Hour)
	got, _, err := s.RotateRefreshToken(ctx, "with-otp", "with-otp-2", now, renewAt(now))
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if !got.SecondFactor {
		t.Error("a refresh lost the session's second factor")
	}
	if got, err := s.SessionByRefreshHash(ctx, "with-otp-2"); err != nil || !got.SecondFactor {
		t.Errorf("SessionByRefreshHash: %+v, %v; want the second factor kept", got, err)
	}
	list, err := s.ListSessions(ctx, u.ID(), now)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListSessions: %d, %v", len(list), err)
	}
	for _, l := range list {
		if l.SecondFactor != (l.ID == sess.ID) {
			t.Errorf("ListSessions: session %s second factor %v", l.ID, l.SecondFactor)
		}
	}
}
