package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports/portmock"
)

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.register(t, "alice@example.com")
	id, token := e.linkFor(t, "alice@example.com")
	if id != u.ID() {
		t.Fatalf("link names user %q, want %q", id, u.ID())
	}
	if err := e.svc.VerifyEmail(context.Background(), id, token); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	st := e.user(t, id).State()
	if st.Role != domain.RoleAuthenticated || !st.EmailVerified || st.VerificationTokenHash != "" {
		t.Errorf("role %v, verified %v, token hash %q; want AUTHENTICATED, verified, none", st.Role, st.EmailVerified, st.VerificationTokenHash)
	}
	// Single use.
	wantErr(t, e.svc.VerifyEmail(context.Background(), id, token), domain.ErrInvalidVerification)
}

func TestVerifyEmailFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		link   func(id, token string) (string, string)
		before func(tb testing.TB, e *env)
		want   error // domain.ErrInvalidVerification when nil
	}{
		{"wrong token", func(id, token string) (string, string) { return id, token + "x" }, nil, nil},
		{"empty token", func(id, token string) (string, string) { return id, "" }, nil, nil},
		{"the stored hash as token", func(id, token string) (string, string) { return id, sha256Hex(token) }, nil, nil},
		{"non-UUID id", func(id, token string) (string, string) { return "42", token }, nil, domain.ErrInvalid},
		{"empty id", func(id, token string) (string, string) { return "", token }, nil, domain.ErrInvalid},
		{"unknown id", func(id, token string) (string, string) { return "ffffffff-ffff-4fff-bfff-ffffffffffff", token }, nil, nil},
		{"another user's token", func(id, token string) (string, string) { return id, "secret-2" }, func(tb testing.TB, e *env) { e.register(tb, "bob@example.com") }, nil},
		{"expired", func(id, token string) (string, string) { return id, token }, func(tb testing.TB, e *env) { e.clock.Advance(verifyTTL) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u := e.register(t, "alice@example.com")
			id, token := e.linkFor(t, "alice@example.com")
			if tt.before != nil {
				tt.before(t, e)
			}
			gotID, gotToken := tt.link(id, token)
			err := e.svc.VerifyEmail(context.Background(), gotID, gotToken)
			if tt.want != nil {
				wantErr(t, err, tt.want)
			} else {
				wantErr(t, err, domain.ErrInvalidVerification)
				wantErr(t, err, domain.ErrRejected)
			}
			if st := e.user(t, u.ID()).State(); st.EmailVerified || st.Role != domain.RoleAnonymous {
				t.Errorf("a failed verification changed the user: verified %v, role %v", st.EmailVerified, st.Role)
			}
		})
	}
}

func TestVerifyEmailJustBeforeExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "alice@example.com")
	id, token := e.linkFor(t, "alice@example.com")
	e.clock.Advance(verifyTTL - time.Nanosecond)
	if err := e.svc.VerifyEmail(context.Background(), strings.ToUpper(id), token); err != nil {
		t.Fatalf("VerifyEmail with an upper-case id just before expiry: %v", err)
	}
}

func TestVerifyEmailStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{UpdateUserFunc: func(ctx context.Context, id string, fn func(u *domain.User) error) error { return errBoom }}
	})
	wantErr(t, e.svc.VerifyEmail(context.Background(), "ffffffff-ffff-4fff-bfff-ffffffffffff", "t"), errBoom)
}
