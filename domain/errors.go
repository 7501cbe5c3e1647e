// Package domain holds the user rules of usersvc. It imports only the
// standard library: no I/O, no clock, no randomness.
package domain

import (
	"errors"
	"fmt"
)

// Error kinds. Every domain error wraps exactly one of them, so the edge maps
// a kind to a status once and never needs to know the specific error.
var (
	ErrInvalid         = errors.New("invalid")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	// ErrUnavailable is a transient refusal (overload, storage down): retry later.
	ErrUnavailable = errors.New("unavailable")
)

// Specific errors. Tests check these; the edge checks the kinds.
var (
	ErrUserNotFound        = fmt.Errorf("user not found: %w", ErrNotFound)
	ErrEmailTaken          = fmt.Errorf("email already exists: %w", ErrConflict)
	ErrNicknameTaken       = fmt.Errorf("nickname already exists: %w", ErrConflict)
	ErrInvalidCredentials  = fmt.Errorf("incorrect email or password: %w", ErrUnauthenticated)
	ErrEmailNotVerified    = fmt.Errorf("email not verified: %w", ErrUnauthenticated)
	ErrAccountLocked       = fmt.Errorf("account locked: %w", ErrForbidden)
	ErrInvalidToken        = fmt.Errorf("invalid token: %w", ErrUnauthenticated)
	ErrNotPermitted        = fmt.Errorf("operation not permitted: %w", ErrForbidden)
	ErrLastAdmin           = fmt.Errorf("the last admin cannot be removed or demoted: %w", ErrConflict)
	ErrInvalidVerification = fmt.Errorf("invalid or expired verification token: %w", ErrInvalid)
	ErrInvalidResetToken   = fmt.Errorf("invalid or expired reset token: %w", ErrInvalid)
	ErrInvalidRefreshToken = fmt.Errorf("invalid refresh token: %w", ErrUnauthenticated)
	// ErrRefreshTokenReused: a rotated refresh token came back, so it was
	// stolen or replayed; its whole session is revoked.
	ErrRefreshTokenReused = fmt.Errorf("refresh token reused: %w", ErrInvalidRefreshToken)
	ErrWrongPassword      = fmt.Errorf("wrong password: %w", ErrInvalid)
	// ErrPasswordChanged: a password was checked against a hash that was
	// replaced by another password meanwhile, so the check proves nothing.
	ErrPasswordChanged    = fmt.Errorf("the password changed while it was checked: %w", ErrWrongPassword)
	ErrInvalidUnlockToken = fmt.Errorf("invalid or expired unlock token: %w", ErrInvalid)
	ErrSessionNotFound    = fmt.Errorf("session not found: %w", ErrNotFound)
	// ErrLoginBusy means every login slot of the account is taken by attempts
	// still being checked; the caller waits and tries again, it is never shown.
	ErrLoginBusy = fmt.Errorf("login attempts in flight: %w", ErrUnavailable)
	// ErrNicknameExhausted: no free generated nickname was found.
	ErrNicknameExhausted = fmt.Errorf("could not generate a unique nickname: %w", ErrUnavailable)
)

// FieldError is one invalid input field.
type FieldError struct {
	Field string // JSON name, e.g. "email"
	Msg   string // human readable
	Type  string // machine readable, FastAPI/pydantic style, e.g. "value_error"
}

// ValidationError lists every invalid field of one input. It wraps ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid input"
	}
	msg := "invalid input: " + e.Fields[0].Field + ": " + e.Fields[0].Msg
	if n := len(e.Fields) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Add records a field failure.
func (e *ValidationError) Add(field, typ, msg string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Msg: msg, Type: typ})
}

// Merge adds the fields of err, if it is a ValidationError, so one answer
// can list every invalid field.
func (e *ValidationError) Merge(err error) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		e.Fields = append(e.Fields, ve.Fields...)
	}
}

// Err returns e as an error when it holds failures, nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// FieldInvalid is a one-field ValidationError.
func FieldInvalid(field, typ, msg string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Msg: msg, Type: typ}}}
}
