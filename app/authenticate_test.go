package app_test

import (
	"context"
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
	actor.SessionID = ""
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
		{"locked user", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			lockAccount(tb, e, u.Email())
			return token
		}},
		{"locked user, token of the current version", func(tb testing.TB, e *env, admin domain.Actor, u *domain.User, token string) string {
			lockAccount(tb, e, u.Email())
			cur := e.user(tb, u.ID())
			return tokenFor(ports.AccessClaims{UserID: u.ID(), Role: cur.Role(), TokenVersion: cur.TokenVersion()})
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
				u.SetPasswordHash(fakeHash("another-Password-9"), e.clock.Now())
				return nil
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
			d.store = &UserStoreMock{UserByIDFunc: func(ctx context.Context, id string) (*domain.User, error) { return nil, errBoom }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.setup)
			token := tokenFor(ports.AccessClaims{UserID: "ffffffff-ffff-4fff-bfff-ffffffffffff", Role: domain.RoleAdmin})
			actor, err := e.svc.Authenticate(context.Background(), token)
			wantErr(t, err, errBoom)
			if actor != (domain.Actor{}) {
				t.Errorf("a failed authentication returned %+v", actor)
			}
		})
	}
}
