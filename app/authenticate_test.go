package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// loggedIn signs up, verifies and logs in email; it returns the user and token.
func loggedIn(tb testing.TB, e *env, email string) (*domain.User, string) {
	tb.Helper()
	u := e.verified(tb, email)
	res, err := e.login(email, goodPass)
	if err != nil {
		tb.Fatalf("Login: %v", err)
	}
	return u, res.AccessToken
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := loggedIn(t, e, "alice@example.com")
	e.clock.Advance(time.Minute)
	actor, err := e.svc.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if actor.SessionID == "" {
		t.Error("the actor carries no session id")
	}
	if actor.User == nil || actor.User.ID() != u.ID() {
		t.Errorf("the actor carries user %v, want the one read with the session", actor.User)
	}
	actor.SessionID, actor.User = "", nil
	if diff := cmp.Diff(domain.Actor{ID: u.ID(), Role: domain.RoleAuthenticated}, actor, roleEqual); diff != "" {
		t.Errorf("actor mismatch (-want +got):\n%s", diff)
	}
	if calls := e.verifier.VerifyCalls(); len(calls) != 1 || calls[0].Token != token || !calls[0].Now.Equal(t0.Add(time.Minute)) {
		t.Errorf("Verify calls %+v; want one with the token at the clock's time", calls)
	}
}

func TestAuthenticateRevoked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// revoke changes the user behind token and returns the token to present.
		revoke func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string
	}{
		{"deleted user", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if err := e.svc.DeleteUser(context.Background(), admin, u.ID()); err != nil {
				tb.Fatal(err)
			}
			return token
		}},
		{"locked by staff", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if _, err := e.svc.Lock(context.Background(), admin, u.ID()); err != nil {
				tb.Fatal(err)
			}
			return token
		}},
		{"logged out", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if err := e.svc.Logout(context.Background(), e.actorOf(tb, token), ""); err != nil {
				tb.Fatal(err)
			}
			return token
		}},
		{"another user's session", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			sid := strings.Split(token, "|")[4]
			return tokenFor(ports.AccessClaims{UserID: admin.ID, Role: domain.RoleAdmin, SessionID: sid})
		}},
		{"demoted user", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if _, err := e.svc.ChangeRole(context.Background(), admin, u.ID(), domain.RoleAnonymous); err != nil {
				tb.Fatal(err)
			}
			return token
		}},
		{"role changed, token of the current version", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if _, err := e.svc.ChangeRole(context.Background(), admin, u.ID(), domain.RoleManager); err != nil {
				tb.Fatal(err)
			}
			return tokenFor(ports.AccessClaims{UserID: u.ID(), Role: domain.RoleAuthenticated, TokenVersion: e.user(tb, u.ID()).TokenVersion()})
		}},
		{"bumped version", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			if err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
				u.SetResetToken("reset-hash", e.clock.Now().Add(time.Hour))
				return u.ResetPassword("reset-hash", fakeHash("another-Password-9"), e.clock.Now())
			}); err != nil {
				tb.Fatal(err)
			}
			return token
		}},
		{"unknown user", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			return tokenFor(ports.AccessClaims{UserID: "ffffffff-ffff-4fff-bfff-ffffffffffff", Role: domain.RoleAdmin})
		}},
		{"not a token", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			return "garbage"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			admin := e.admin(t, "root@example.com")
			u, token := loggedIn(t, e, "alice@example.com")
			if _, err := e.svc.Authenticate(context.Background(), token); err != nil {
				t.Fatalf("Authenticate before the change: %v", err)
			}
			_, err := e.svc.Authenticate(context.Background(), tt.revoke(t, e, admin, u, token))
			wantErr(t, err, domain.ErrInvalidToken)
		})
	}
}

func TestAuthenticateFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*deps)
	}{
		{"verifier", func(d *deps) {
			d.verifier.VerifyFunc = func(token string, now time.Time) (ports.AccessClaims, error) { return ports.AccessClaims{}, errBoom }
		}},
		{"store", func(d *deps) {
			d.sessions = &failingSessions{SessionStore: d.mem}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.setup)
			token := tokenFor(ports.AccessClaims{UserID: "ffffffff-ffff-4fff-bfff-ffffffffffff", Role: domain.RoleAdmin, SessionID: "ffffffff-ffff-4fff-bfff-fffffffffff0"})
			actor, err := e.svc.Authenticate(context.Background(), token)
			wantErr(t, err, errBoom)
			if actor.ID != "" || actor.User != nil {
				t.Errorf("a failed authentication returned %+v", actor)
			}
		})
	}
}

// A failure to sign a login out of a lock caused by wrong passwords: the
// session goes on (PRODUCT.md section 4), so three wrong passwords from
// anyone cannot sign the owner out.
func TestAuthenticateSurvivesALockByFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := loggedIn(t, e, "alice@example.com")
	lockAccount(t, e, u.Email())
	if !e.user(t, u.ID()).IsLocked() {
		t.Fatal("the account did not lock")
	}
	if _, err := e.svc.Authenticate(context.Background(), token); err != nil {
		t.Errorf("Authenticate after a lock by wrong passwords = %v, want the session to go on", err)
	}
}

// failingSessions is a SessionStore whose reads fail.
type failingSessions struct{ ports.SessionStore }

func (failingSessions) SessionWithUser(context.Context, string) (domain.Session, *domain.User, error) {
	return domain.Session{}, nil, errBoom
}
