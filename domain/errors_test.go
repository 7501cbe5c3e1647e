package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	kinds := []error{domain.ErrInvalid, domain.ErrNotFound, domain.ErrConflict, domain.ErrUnauthenticated, domain.ErrForbidden, domain.ErrUnavailable}
	tests := []struct {
		name string
		err  error
		kind error
	}{
		{"ErrUserNotFound", domain.ErrUserNotFound, domain.ErrNotFound},
		{"ErrEmailTaken", domain.ErrEmailTaken, domain.ErrConflict},
		{"ErrNicknameTaken", domain.ErrNicknameTaken, domain.ErrConflict},
		{"ErrInvalidCredentials", domain.ErrInvalidCredentials, domain.ErrUnauthenticated},
		{"ErrEmailNotVerified", domain.ErrEmailNotVerified, domain.ErrUnauthenticated},
		{"ErrAccountLocked", domain.ErrAccountLocked, domain.ErrForbidden},
		{"ErrInvalidToken", domain.ErrInvalidToken, domain.ErrUnauthenticated},
		{"ErrNotPermitted", domain.ErrNotPermitted, domain.ErrForbidden},
		{"ErrLastAdmin", domain.ErrLastAdmin, domain.ErrConflict},
		{"ErrInvalidVerification", domain.ErrInvalidVerification, domain.ErrInvalid},
		{"ErrLoginBusy", domain.ErrLoginBusy, domain.ErrUnavailable},
		{"ErrNicknameExhausted", domain.ErrNicknameExhausted, domain.ErrUnavailable},
		{"ValidationError", &domain.ValidationError{}, domain.ErrInvalid},
		{"FieldInvalid", domain.FieldInvalid("email", "value_error", "bad"), domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wrapped := fmt.Errorf("op: %w", tt.err)
			for _, k := range kinds {
				if got, want := errors.Is(wrapped, k), errors.Is(tt.kind, k); got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, k, got, want)
				}
			}
			if !errors.Is(wrapped, tt.err) {
				t.Errorf("a wrapped %v does not match itself", tt.err)
			}
		})
	}
	// Specific errors are distinct from one another.
	if errors.Is(domain.ErrEmailTaken, domain.ErrNicknameTaken) || errors.Is(domain.ErrInvalidToken, domain.ErrInvalidCredentials) {
		t.Error("specific errors of one kind must not match each other")
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	var nilErr *domain.ValidationError
	if nilErr.Err() != nil {
		t.Error("a nil *ValidationError must give a nil error")
	}
	v := &domain.ValidationError{}
	if v.Err() != nil {
		t.Error("an empty ValidationError must give a nil error")
	}
	if got, want := v.Error(), "invalid input"; got != want {
		t.Errorf("empty Error() = %q, want %q", got, want)
	}

	v.Add("email", "value_error", "bad email")
	if got, want := v.Error(), "invalid input: email: bad email"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	v.Add("nickname", "string_too_short", "short")
	v.Add("bio", "string_too_long", "long")
	if got, want := v.Error(), "invalid input: email: bad email (and 2 more)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err := v.Err()
	if err == nil {
		t.Fatal("Err() = nil for a ValidationError with fields")
	}
	var ve *domain.ValidationError
	if !errors.As(fmt.Errorf("register: %w", err), &ve) {
		t.Fatal("errors.As does not find the ValidationError through a wrap")
	}
	want := []domain.FieldError{
		{Field: "email", Msg: "bad email", Type: "value_error"},
		{Field: "nickname", Msg: "short", Type: "string_too_short"},
		{Field: "bio", Msg: "long", Type: "string_too_long"},
	}
	if diff := cmp.Diff(want, ve.Fields); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Error("a ValidationError must wrap ErrInvalid")
	}

	one := domain.FieldInvalid("role", "enum", "bad role")
	if !errors.As(one, &ve) {
		t.Fatal("FieldInvalid is not a *ValidationError")
	}
	if diff := cmp.Diff([]domain.FieldError{{Field: "role", Msg: "bad role", Type: "enum"}}, ve.Fields); diff != "" {
		t.Errorf("FieldInvalid mismatch (-want +got):\n%s", diff)
	}
}
