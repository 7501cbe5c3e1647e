package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

// t0 is the fixed "now" of the domain tests; the domain never reads a clock.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// invalidFields asserts that err is a *domain.ValidationError wrapping
// domain.ErrInvalid and returns the names of its fields, in order.
func invalidFields(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		tb.Fatal("got nil error, want a validation error")
	}
	if !errors.Is(err, domain.ErrInvalid) {
		tb.Fatalf("error %v does not wrap domain.ErrInvalid", err)
	}
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		tb.Fatalf("error %v (%T) is not a *domain.ValidationError", err, err)
	}
	names := make([]string, 0, len(ve.Fields))
	for _, f := range ve.Fields {
		if f.Code == "" {
			tb.Errorf("field error %+v lacks a code", f)
		}
		names = append(names, f.Field)
	}
	return names
}

// wantInvalid asserts that err is a validation error on exactly fields.
func wantInvalid(tb testing.TB, err error, fields ...string) {
	tb.Helper()
	if diff := cmp.Diff(fields, invalidFields(tb, err)); diff != "" {
		tb.Errorf("invalid fields mismatch (-want +got):\n%s", diff)
	}
}

// wantCode asserts that err is a one-field validation error with code.
func wantCode(tb testing.TB, err error, field string, code domain.Code) {
	tb.Helper()
	wantInvalid(tb, err, field)
	var ve *domain.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Code != code {
		tb.Errorf("code = %q, want %q", ve.Fields[0].Code, code)
	}
}

// newUser builds a valid user with the given role through NewUser.
func newUser(tb testing.TB, role domain.Role) *domain.User {
	tb.Helper()
	u, err := domain.NewUser(domain.NewUserParams{
		ID:           "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10",
		Email:        "  Alice@Example.COM ",
		Nickname:     "alice",
		PasswordHash: "hash",
		Profile:      domain.Profile{FirstName: "Alice"},
		Role:         role,
		Now:          t0,
	})
	if err != nil {
		tb.Fatalf("NewUser: %v", err)
	}
	return u
}

// userWithRole rebuilds a user in the given role, as storage would.
func userWithRole(role domain.Role) *domain.User {
	return domain.RehydrateUser(domain.UserState{ID: "id-" + role.String(), Email: "x@example.com", Nickname: "xyz", Role: role})
}
