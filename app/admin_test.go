package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

func TestCreateAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, err := e.svc.CreateAdmin(context.Background(), " Root@Example.com", goodPass)
	if err != nil {
		t.Fatalf("CreateAdmin: %v", err)
	}
	st := e.user(t, u.ID()).State()
	if st.Role != domain.RoleAdmin || !st.EmailVerified || st.VerificationTokenHash != "" || st.Email != "root@example.com" {
		t.Errorf("role %v, verified %v, token %q, email %q; want a verified ADMIN", st.Role, st.EmailVerified, st.VerificationTokenHash, st.Email)
	}
	if !generatedNickname.MatchString(st.Nickname) {
		t.Errorf("nickname %q is not generated", st.Nickname)
	}
	if len(e.sent()) != 0 {
		t.Errorf("CreateAdmin sent %d mails, want none", len(e.sent()))
	}
	res, err := e.login("root@example.com", goodPass)
	if err != nil {
		t.Fatalf("Login as the new admin: %v", err)
	}
	if res.User.Role() != domain.RoleAdmin {
		t.Errorf("logged in as %v", res.User.Role())
	}
}

func TestCreateAdminRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email, password string
		want                  error
		fields                []string
	}{
		{"taken email", "TAKEN@example.com", goodPass, domain.ErrEmailTaken, nil},
		{"invalid email", "root", goodPass, nil, []string{"email"}},
		{"weak password", "root@example.com", "12345678", nil, []string{"password"}},
		{"password equal to the email", "root@example.com", "ROOT@example.com", nil, []string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.register(t, "taken@example.com")
			hashes := len(e.hasher.HashCalls())
			_, err := e.svc.CreateAdmin(context.Background(), tt.email, tt.password)
			if tt.fields != nil {
				wantInvalid(t, err, tt.fields...)
			} else {
				wantErr(t, err, tt.want)
			}
			if len(e.hasher.HashCalls()) != hashes {
				t.Error("a refused admin was hashed")
			}
			if got := len(snapshot(t, e)); got != 1 {
				t.Errorf("%d users stored, want 1", got)
			}
		})
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created, err := e.svc.EnsureAdmin(context.Background(), "root@example.com", goodPass, app.EnforcePolicy)
	if err != nil || !created {
		t.Fatalf("first EnsureAdmin = %v, %v; want true, nil", created, err)
	}
	created, err = e.svc.EnsureAdmin(context.Background(), "ROOT@example.com", "another-Password-9", app.EnforcePolicy)
	if err != nil || created {
		t.Fatalf("second EnsureAdmin = %v, %v; want false, nil", created, err)
	}
	users := snapshot(t, e)
	if len(users) != 1 || users[0].Role != domain.RoleAdmin || !users[0].EmailVerified {
		t.Fatalf("stored %+v; want one verified ADMIN", users)
	}
	// The existing account is left as it was.
	if users[0].PasswordHash != fakeHash(goodPass) {
		t.Error("the second EnsureAdmin changed the password")
	}
}

// TestEnsureAdminOnlyWithoutAnyAdmin: the bootstrap admin is created only
// when the database has no ADMIN at all. Deleted while another ADMIN
// exists, it does not come back; an existing account with its email is
// left alone.
func TestEnsureAdminOnlyWithoutAnyAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	if created, err := e.svc.EnsureAdmin(ctx, "root@example.com", goodPass, app.EnforcePolicy); err != nil || !created {
		t.Fatalf("EnsureAdmin on an empty database = %v, %v; want true, nil", created, err)
	}
	root, err := e.mem.UserByEmail(ctx, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	other := e.admin(t, "second@example.com")
	if err := e.svc.DeleteUser(ctx, other, root.ID()); err != nil {
		t.Fatalf("deleting the bootstrap admin: %v", err)
	}
	if created, err := e.svc.EnsureAdmin(ctx, "root@example.com", goodPass, app.EnforcePolicy); err != nil || created {
		t.Fatalf("EnsureAdmin with another ADMIN = %v, %v; want false, nil", created, err)
	}
	if _, err := e.mem.UserByEmail(ctx, "root@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Fatalf("the deleted bootstrap admin came back: %v", err)
	}

	// No ADMIN at all, but the email belongs to an ordinary account: it is
	// neither promoted nor changed.
	e = newEnv(t)
	u := e.verified(t, "root@example.com")
	if created, err := e.svc.EnsureAdmin(ctx, "root@example.com", goodPass, app.EnforcePolicy); err != nil || created {
		t.Fatalf("EnsureAdmin over an ordinary account = %v, %v; want false, nil", created, err)
	}
	if got := e.user(t, u.ID()).Role(); got != domain.RoleAuthenticated {
		t.Errorf("the ordinary account became %v", got)
	}
}

func TestEnsureAdminFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.EnsureAdmin(context.Background(), "root", goodPass, app.EnforcePolicy)
	wantInvalid(t, err, "email")

	e = newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{
			ListUsersFunc:   func(ctx context.Context, q ports.UserQuery) ([]*domain.User, int, error) { return nil, 0, nil },
			UserByEmailFunc: func(ctx context.Context, email string) (*domain.User, error) { return nil, errBoom },
		}
	})
	created, err := e.svc.EnsureAdmin(context.Background(), "root@example.com", goodPass, app.EnforcePolicy)
	wantErr(t, err, errBoom)
	if created {
		t.Error("EnsureAdmin reported a creation that failed")
	}
}

func TestEnsureAdminWeakPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.EnsureAdmin(context.Background(), "root@example.com", "password", app.EnforcePolicy)
	wantInvalid(t, err, "password")
	created, err := e.svc.EnsureAdmin(context.Background(), "root@example.com", "password", app.WarnOnWeak)
	if err != nil || !created {
		t.Fatalf("development bootstrap with a weak password: %v, %v", created, err)
	}
	e = newEnv(t)
	_, err = e.svc.EnsureAdmin(context.Background(), "bad", "password", app.WarnOnWeak)
	wantInvalid(t, err, "email", "password")
}
