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
	kinds := []error{domain.ErrInvalid, domain.ErrRejected, domain.ErrUnauthenticated, domain.ErrForbidden, domain.ErrNotFound, domain.ErrConflict, domain.ErrUnavailable}
	tests := []struct {
		name string
		err  error
		kind error
	}{
		{"ErrEmailTaken", domain.ErrEmailTaken, domain.ErrRejected},
		{"ErrNicknameTaken", domain.ErrNicknameTaken, domain.ErrRejected},
		{"ErrAccountLocked", domain.ErrAccountLocked, domain.ErrRejected},
		{"ErrInvalidVerification", domain.ErrInvalidVerification, domain.ErrRejected},
		{"ErrInvalidResetToken", domain.ErrInvalidResetToken, domain.ErrRejected},
		{"ErrWrongPassword", domain.ErrWrongPassword, domain.ErrRejected},
		{"ErrLastAdmin", domain.ErrLastAdmin, domain.ErrConflict},
		{"ErrInvalidCredentials", domain.ErrInvalidCredentials, domain.ErrUnauthenticated},
		{"ErrEmailNotVerified", domain.ErrEmailNotVerified, domain.ErrUnauthenticated},
		{"ErrInvalidToken", domain.ErrInvalidToken, domain.ErrUnauthenticated},
		{"ErrInvalidRefreshToken", domain.ErrInvalidRefreshToken, domain.ErrUnauthenticated},
		{"ErrRefreshTokenReused", domain.ErrRefreshTokenReused, domain.ErrUnauthenticated},
		{"ErrNotPermitted", domain.ErrNotPermitted, domain.ErrForbidden},
		{"ErrUserNotFound", domain.ErrUserNotFound, domain.ErrNotFound},
		{"ErrSessionNotFound", domain.ErrSessionNotFound, domain.ErrNotFound},
		{"ErrLoginBusy", domain.ErrLoginBusy, domain.ErrUnavailable},
		{"ErrNicknameExhausted", domain.ErrNicknameExhausted, domain.ErrUnavailable},
		{"ErrMFAEnabled", domain.ErrMFAEnabled, domain.ErrConflict},
		{"ErrMFANotEnabled", domain.ErrMFANotEnabled, domain.ErrConflict},
		{"ErrNoPendingMFA", domain.ErrNoPendingMFA, domain.ErrConflict},
		{"ErrInvalidCode", domain.ErrInvalidCode, domain.ErrRejected},
		{"ErrSecondFactorFailed", domain.ErrSecondFactorFailed, domain.ErrUnauthenticated},
		{"ErrInvalidMFAToken", domain.ErrInvalidMFAToken, domain.ErrUnauthenticated},
		{"ErrSecondFactorRequired", domain.ErrSecondFactorRequired, domain.ErrForbidden},
		{"ValidationError", &domain.ValidationError{}, domain.ErrInvalid},
		{"FieldInvalid", domain.FieldInvalid(domain.FieldError{Field: "email", Code: domain.CodeEmailSyntax}), domain.ErrInvalid},
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

// CodeForTest stands for a code a use case declares for its own checks.
const CodeForTest domain.Code = "for_test"

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

	v.Add(domain.FieldError{Field: "email", Code: domain.CodeEmailAtSign})
	if got, want := v.Error(), "invalid input: email: email_at_sign"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	v.Add(domain.FieldError{Field: "nickname", Code: domain.CodeTooShort, Min: 3})
	v.Add(domain.FieldError{Field: "bio", Code: domain.CodeTooLong, Max: 500})
	if got, want := v.Error(), "invalid input: email: email_at_sign (and 2 more)"; got != want {
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
		{Field: "email", Code: domain.CodeEmailAtSign},
		{Field: "nickname", Code: domain.CodeTooShort, Min: 3},
		{Field: "bio", Code: domain.CodeTooLong, Max: 500},
	}
	if diff := cmp.Diff(want, ve.Fields); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Error("a ValidationError must wrap ErrInvalid")
	}

	one := domain.FieldInvalid(domain.FieldError{Code: CodeForTest})
	if !errors.As(one, &ve) {
		t.Fatal("FieldInvalid is not a *ValidationError")
	}
	if diff := cmp.Diff([]domain.FieldError{{Code: CodeForTest}}, ve.Fields); diff != "" {
		t.Errorf("FieldInvalid mismatch (-want +got):\n%s", diff)
	}
	if got, want := one.Error(), "invalid input: for_test"; got != want {
		t.Errorf("Error() of a whole-input error = %q, want %q", got, want)
	}
}
