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
// references its user, and goes when the user is deleted.
type SessionStoreUnderTest interface {
	ports.UserStore
	ports.SessionStore
}

// SessionStore runs the ports.SessionStore contract as named subtests.
// newStore must return an empty store that no other subtest uses; it may
// register cleanup on t.
//
// Beyond the port's comments, the suite requires that a session needs an
// existing user (else domain.ErrUserNotFound) and goes with it on
// DeleteUser, that a reused token is reported as reused even once its
// session has ended, and that stores keep times to the microsecond.
func SessionStore(t *testing.T, newStore func(t *testing.T) SessionStoreUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s SessionStoreUnderTest)
	}{
		{"CreateAndFind", testSessionCreateAndFind},
		{"CreateChecksUserAndDuplicates", testSessionCreateChecks},
		{"RotateHappyPath", testSessionRotate},
		{"ReuseRevokesSession", testSessionReuse},
		{"ExpiredOrRevokedSessionIsInvalid", testSessionExpired},
		{"UnknownTokenIsInvalid", testSessionUnknownToken},
		{"RevokeSessionIsIdempotent", testSessionRevoke},
		{"RevokeUserSessionsExceptOne", testSessionRevokeUser},
		{"DeleteUserRemovesSessions", testSessionDeleteUser},
		{"ConcurrentRotationsOneWins", testSessionConcurrentRotation},
		{"UserVersionRoundTrips", testSessionUserVersion},
		{"CancelledContext", testSessionCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// sessionTTL is the suite's usual session lifetime.
const sessionTTL = 24 * time.Hour

// newSession creates a user (if u is nil) and a session for it at epoch with
// the refresh token hash, and returns the session.
func newSession(tb testing.TB, s SessionStoreUnderTest, u *domain.User, hash string) domain.Session {
	tb.Helper()
	if u == nil {
		u = newUser(tb, uniqueNickname("s")+"@example.com", uniqueNickname("s"), domain.RoleAuthenticated, epoch)
		mustCreate(tb, s, u)
	}
	sess := domain.Session{ID: uuid.NewString(), UserID: u.ID(), CreatedAt: epoch, ExpiresAt: epoch.Add(sessionTTL)}
	if err := s.CreateSession(context.Background(), sess, hash); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func testSessionCreateAndFind(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "hash-1")
	newSession(t, s, nil, "hash-other") // another session, not to be returned

	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	assertSession(t, got, sess)
	got, err = s.SessionByRefreshHash(ctx, "hash-1")
	if err != nil {
		t.Fatalf("SessionByRefreshHash: %v", err)
	}
	assertSession(t, got, sess)

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if _, err := s.SessionByID(ctx, id); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByID(%q) error = %v, want ErrSessionNotFound", id, err)
		}
	}
	for _, h := range []string{"hash-2", ""} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%q) error = %v, want ErrSessionNotFound", h, err)
		}
	}
}

func testSessionCreateChecks(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "taken-hash")
	fresh := func(userID string) domain.Session {
		return domain.Session{ID: uuid.NewString(), UserID: userID, CreatedAt: epoch, ExpiresAt: epoch.Add(sessionTTL)}
	}
	if err := s.CreateSession(ctx, fresh(uuid.NewString()), "h-no-user"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("CreateSession for a missing user: error = %v, want ErrUserNotFound", err)
	}
	dupID := fresh(sess.UserID)
	dupID.ID = sess.ID
	if err := s.CreateSession(ctx, dupID, "h-dup-id"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateSession with a session id in use: error = %v, want one wrapping ErrConflict", err)
	}
	if err := s.CreateSession(ctx, fresh(sess.UserID), "taken-hash"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("CreateSession with a refresh hash in use: error = %v, want one wrapping ErrConflict", err)
	}
	if err := s.CreateSession(ctx, fresh(sess.UserID), ""); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("CreateSession with no refresh hash: error = %v, want one wrapping ErrInvalid", err)
	}
	// None of the failures left anything behind.
	for _, h := range []string{"h-no-user", "h-dup-id"} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%q) after a failed create: error = %v, want ErrSessionNotFound", h, err)
		}
	}
	got, err := s.SessionByRefreshHash(ctx, "taken-hash")
	if err != nil {
		t.Fatalf("SessionByRefreshHash: %v", err)
	}
	assertSession(t, got, sess)
}

func testSessionRotate(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "r1")
	now, expiry := epoch.Add(time.Hour), epoch.Add(time.Hour+sessionTTL)

	got, err := s.RotateRefreshToken(ctx, "r1", "r2", now, expiry)
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	want := sess
	want.ExpiresAt = expiry
	assertSession(t, got, want)
	stored, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	assertSession(t, stored, want)
	// Both tokens still name the session, rotated or not.
	for _, h := range []string{"r1", "r2"} {
		if got, err := s.SessionByRefreshHash(ctx, h); err != nil {
			t.Errorf("SessionByRefreshHash(%s): %v", h, err)
		} else {
			assertSession(t, got, want)
		}
	}

	// The new token works, and so does the one after it.
	later, laterExpiry := now.Add(time.Hour), expiry.Add(time.Hour)
	got, err = s.RotateRefreshToken(ctx, "r2", "r3", later, laterExpiry)
	if err != nil {
		t.Fatalf("RotateRefreshToken with the new token: %v", err)
	}
	want.ExpiresAt = laterExpiry
	assertSession(t, got, want)

	// The old token is spent: it comes back as reused.
	if _, err := s.RotateRefreshToken(ctx, "r1", "r4", later, laterExpiry); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Errorf("RotateRefreshToken with the first token again: error = %v, want ErrRefreshTokenReused", err)
	}
}

func testSessionReuse(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "u1")
	other := newSession(t, s, nil, "other-1") // untouched by the reuse
	now := epoch.Add(time.Hour)
	if _, err := s.RotateRefreshToken(ctx, "u1", "u2", now, now.Add(sessionTTL)); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	reusedAt := now.Add(time.Minute)
	if _, err := s.RotateRefreshToken(ctx, "u1", "u3", reusedAt, reusedAt.Add(sessionTTL)); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Fatalf("RotateRefreshToken with a rotated token: error = %v, want ErrRefreshTokenReused", err)
	}
	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	if !sameTime(got.RevokedAt, reusedAt) {
		t.Errorf("after reuse RevokedAt = %v, want the reuse time %v", got.RevokedAt, reusedAt)
	}
	// Even the newest token no longer works; it was not rotated, so it is
	// invalid rather than reused.
	if _, err := s.RotateRefreshToken(ctx, "u2", "u4", reusedAt, reusedAt.Add(sessionTTL)); !isInvalidNotReused(err) {
		t.Errorf("RotateRefreshToken with the newest token of a revoked session: error = %v, want ErrInvalidRefreshToken (not reused)", err)
	}
	if _, err := s.SessionByRefreshHash(ctx, "u3"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("the failed rotations saved their new hash: SessionByRefreshHash error = %v", err)
	}
	// A second reuse keeps the first revocation time.
	if _, err := s.RotateRefreshToken(ctx, "u1", "u5", reusedAt.Add(time.Hour), reusedAt.Add(sessionTTL)); !errors.Is(err, domain.ErrRefreshTokenReused) {
		t.Errorf("second reuse: error = %v, want ErrRefreshTokenReused", err)
	}
	if got, err := s.SessionByID(ctx, sess.ID); err != nil || !sameTime(got.RevokedAt, reusedAt) {
		t.Errorf("after a second reuse: RevokedAt = %v (%v), want %v", got.RevokedAt, err, reusedAt)
	}
	if got, err := s.SessionByID(ctx, other.ID); err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("another session: RevokedAt = %v (%v), want it active", got.RevokedAt, err)
	}
}

func testSessionExpired(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "e1")
	end := sess.ExpiresAt
	// Expiry is exclusive: at ExpiresAt the session is over.
	for _, now := range []time.Time{end, end.Add(time.Hour)} {
		if _, err := s.RotateRefreshToken(ctx, "e1", "e2", now, now.Add(sessionTTL)); !isInvalidNotReused(err) {
			t.Errorf("RotateRefreshToken at %v of a session expiring %v: error = %v, want ErrInvalidRefreshToken", now, end, err)
		}
	}
	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	assertSession(t, got, sess) // unchanged: neither extended nor revoked
	// The token was not spent: just before the end it still works.
	if _, err := s.RotateRefreshToken(ctx, "e1", "e2", end.Add(-time.Microsecond), end.Add(time.Hour)); err != nil {
		t.Errorf("RotateRefreshToken just before expiry: %v", err)
	}

	revoked := newSession(t, s, nil, "v1")
	if err := s.RevokeSession(ctx, revoked.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if _, err := s.RotateRefreshToken(ctx, "v1", "v2", epoch.Add(time.Hour), epoch.Add(sessionTTL)); !isInvalidNotReused(err) {
		t.Errorf("RotateRefreshToken of a revoked session: error = %v, want ErrInvalidRefreshToken (not reused)", err)
	}
}

func testSessionUnknownToken(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "known")
	for _, h := range []string{"unknown", "KNOWN", ""} {
		if _, err := s.RotateRefreshToken(ctx, h, "next-"+h, epoch, epoch.Add(sessionTTL)); !isInvalidNotReused(err) {
			t.Errorf("RotateRefreshToken(%q): error = %v, want ErrInvalidRefreshToken (not reused)", h, err)
		}
	}
	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	assertSession(t, got, sess)
}

func testSessionRevoke(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	sess := newSession(t, s, nil, "k1")
	first := epoch.Add(time.Minute)
	if err := s.RevokeSession(ctx, sess.ID, first); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if err := s.RevokeSession(ctx, sess.ID, first.Add(time.Hour)); err != nil {
		t.Errorf("RevokeSession of a revoked session: %v", err)
	}
	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	want := sess
	want.RevokedAt = first
	assertSession(t, got, want)
	if got.Active(first) {
		t.Error("a revoked session is still active")
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if err := s.RevokeSession(ctx, id, first); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("RevokeSession(%q) error = %v, want ErrSessionNotFound", id, err)
		}
	}
}

func testSessionRevokeUser(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newUser(t, "many@example.com", "many", domain.RoleAuthenticated, epoch)
	other := newUser(t, "bystander@example.com", "bystander", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, other)
	keep := newSession(t, s, u, "keep")
	a := newSession(t, s, u, "a")
	b := newSession(t, s, u, "b")
	revoked := newSession(t, s, u, "revoked")
	expired := newSession(t, s, u, "expired")
	theirs := newSession(t, s, other, "theirs")
	earlier := epoch.Add(time.Minute)
	if err := s.RevokeSession(ctx, revoked.ID, earlier); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	// Move expired's end before now by rotating it with a short expiry.
	now := epoch.Add(time.Hour)
	if _, err := s.RotateRefreshToken(ctx, "expired", "expired-2", earlier, now.Add(-time.Second)); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}

	n, err := s.RevokeUserSessions(ctx, u.ID(), keep.ID, now)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions except one = %d, %v; want 2, nil", n, err)
	}
	state := func(id string) domain.Session {
		t.Helper()
		got, err := s.SessionByID(ctx, id)
		if err != nil {
			t.Fatalf("SessionByID: %v", err)
		}
		return got
	}
	for _, sess := range []domain.Session{a, b} {
		if got := state(sess.ID); !sameTime(got.RevokedAt, now) {
			t.Errorf("session %s: RevokedAt = %v, want %v", sess.ID, got.RevokedAt, now)
		}
	}
	if got := state(revoked.ID); !sameTime(got.RevokedAt, earlier) {
		t.Errorf("an already revoked session: RevokedAt = %v, want its first %v", got.RevokedAt, earlier)
	}
	if got := state(expired.ID); !got.RevokedAt.IsZero() {
		t.Errorf("an expired session was revoked at %v; only active ones are", got.RevokedAt)
	}
	for _, sess := range []domain.Session{keep, theirs} {
		if got := state(sess.ID); !got.Active(now) {
			t.Errorf("session %s was ended; want it kept", sess.ID)
		}
	}

	later := now.Add(time.Minute)
	if n, err := s.RevokeUserSessions(ctx, u.ID(), "", later); err != nil || n != 1 {
		t.Errorf("RevokeUserSessions of all = %d, %v; want 1 (the kept one), nil", n, err)
	}
	if got := state(keep.ID); !sameTime(got.RevokedAt, later) {
		t.Errorf("kept session after revoking all: RevokedAt = %v, want %v", got.RevokedAt, later)
	}
	if n, err := s.RevokeUserSessions(ctx, u.ID(), "", later.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("RevokeUserSessions again = %d, %v; want 0, nil", n, err)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		if n, err := s.RevokeUserSessions(ctx, id, "", later); err != nil || n != 0 {
			t.Errorf("RevokeUserSessions(%q) = %d, %v; want 0, nil", id, n, err)
		}
	}
	if got := state(theirs.ID); !got.Active(later) {
		t.Error("another user's session was ended")
	}
}

func testSessionDeleteUser(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newUser(t, "leaving@example.com", "leaving", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	one := newSession(t, s, u, "d1")
	two := newSession(t, s, u, "d2")
	theirs := newSession(t, s, nil, "staying")
	// A rotated token too, so more than one token row goes.
	if _, err := s.RotateRefreshToken(ctx, "d1", "d1-next", epoch.Add(time.Minute), epoch.Add(sessionTTL)); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { return nil }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, id := range []string{one.ID, two.ID} {
		if _, err := s.SessionByID(ctx, id); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByID of a deleted user's session: error = %v, want ErrSessionNotFound", err)
		}
	}
	for _, h := range []string{"d1", "d1-next", "d2"} {
		if _, err := s.SessionByRefreshHash(ctx, h); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Errorf("SessionByRefreshHash(%s) of a deleted user: error = %v, want ErrSessionNotFound", h, err)
		}
		if _, err := s.RotateRefreshToken(ctx, h, h+"-again", epoch.Add(time.Hour), epoch.Add(sessionTTL)); !isInvalidNotReused(err) {
			t.Errorf("RotateRefreshToken(%s) of a deleted user: error = %v, want ErrInvalidRefreshToken", h, err)
		}
	}
	if err := s.RevokeSession(ctx, one.ID, epoch.Add(time.Hour)); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("RevokeSession of a deleted user's session: error = %v, want ErrSessionNotFound", err)
	}
	got, err := s.SessionByID(ctx, theirs.ID)
	if err != nil {
		t.Fatalf("another user's session after DeleteUser: %v", err)
	}
	assertSession(t, got, theirs)
	// A rolled-back delete keeps the sessions.
	errBoom := errors.New("boom")
	owner, err := s.UserByID(ctx, theirs.UserID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if err := s.DeleteUser(ctx, owner.ID(), func(*domain.User, int) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("DeleteUser with a failing check: error = %v, want the check's error", err)
	}
	if _, err := s.SessionByRefreshHash(ctx, "staying"); err != nil {
		t.Errorf("session after a rolled-back DeleteUser: %v", err)
	}
}

func testSessionConcurrentRotation(t *testing.T, s SessionStoreUnderTest) {
	const n = 20
	sess := newSession(t, s, nil, "race")
	now := epoch.Add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	winner := -1
	errs := runConcurrently(n, func(i int) error {
		_, err := s.RotateRefreshToken(ctx, "race", fmt.Sprintf("race-%d", i), now, now.Add(sessionTTL))
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
	got, err := s.SessionByID(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	if got.RevokedAt.IsZero() {
		t.Error("after concurrent reuse of one token the session is still active, want it revoked")
	}
	// The winner's token belongs to the revoked session: it is no use.
	if _, err := s.RotateRefreshToken(t.Context(), fmt.Sprintf("race-%d", winner), "after", now, now.Add(sessionTTL)); !isInvalidNotReused(err) {
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

func testSessionCancelledContext(t *testing.T, s SessionStoreUnderTest) {
	sess := newSession(t, s, nil, "c1")
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
	other := domain.Session{ID: uuid.NewString(), UserID: sess.UserID, CreatedAt: epoch, ExpiresAt: epoch.Add(sessionTTL)}
	check("CreateSession", s.CreateSession(ctx, other, "c-other"))
	_, err := s.RotateRefreshToken(ctx, "c1", "c2", epoch, epoch.Add(sessionTTL))
	check("RotateRefreshToken", err)
	_, err = s.SessionByID(ctx, sess.ID)
	check("SessionByID", err)
	_, err = s.SessionByRefreshHash(ctx, "c1")
	check("SessionByRefreshHash", err)
	check("RevokeSession", s.RevokeSession(ctx, sess.ID, epoch))
	_, err = s.RevokeUserSessions(ctx, sess.UserID, "", epoch)
	check("RevokeUserSessions", err)

	// Nothing changed.
	got, err := s.SessionByID(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	assertSession(t, got, sess)
	if _, err := s.SessionByID(t.Context(), other.ID); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Errorf("session created under a cancelled context: SessionByID error = %v, want ErrSessionNotFound", err)
	}
	if _, err := s.RotateRefreshToken(t.Context(), "c1", "c2", epoch, epoch.Add(sessionTTL)); err != nil {
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
	for _, tm := range []time.Time{got.CreatedAt, got.ExpiresAt, got.RevokedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			tb.Errorf("session %s: time %v is not in UTC", got.ID, tm)
		}
	}
	if diff := gocmp.Diff(want, got, gocmp.Comparer(sameTime)); diff != "" {
		tb.Errorf("session %s (-want +got):\n%s", want.ID, diff)
	}
}

func testSessionUserVersion(t *testing.T, s SessionStoreUnderTest) {
	ctx := t.Context()
	u := newUser(t, uniqueNickname("v")+"@example.com", uniqueNickname("v"), domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	sess := domain.Session{ID: uuid.NewString(), UserID: u.ID(), CreatedAt: epoch, ExpiresAt: epoch.Add(sessionTTL), UserVersion: 7}
	if err := s.CreateSession(ctx, sess, "hash-v"); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByID(ctx, sess.ID)
	if err != nil || got.UserVersion != 7 {
		t.Fatalf("SessionByID = %+v, %v; want UserVersion 7", got, err)
	}
	rotated, err := s.RotateRefreshToken(ctx, "hash-v", "hash-v2", epoch.Add(time.Minute), epoch.Add(sessionTTL))
	if err != nil || rotated.UserVersion != 7 {
		t.Fatalf("rotation returned %+v, %v; want UserVersion 7", rotated, err)
	}
}
