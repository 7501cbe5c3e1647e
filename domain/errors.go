// Package domain holds the user rules of usersvc. It imports only the
// standard library: no I/O, no clock, no randomness.
package domain

import (
	"errors"
	"fmt"
)

// Error kinds. Every domain error wraps exactly one of them, and the kind
// alone decides how the edge answers (adapters/httpapi maps each kind to
// one HTTP status), so the edge never needs to know the specific error to
// choose a status.
var (
	// ErrInvalid: the input fails validation (*ValidationError wraps it).
	ErrInvalid = errors.New("invalid")
	// ErrRejected: a well-formed request that a rule or a secret refuses:
	// a wrong password or token, a taken email or nickname, a locked account.
	ErrRejected = errors.New("rejected")
	// ErrUnauthenticated: the caller is not (or no longer) known.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the caller is known but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the thing named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the resource's state forbids the change (the last admin,
	// an id already in use).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable is a transient refusal (overload, storage down): retry later.
	ErrUnavailable = errors.New("unavailable")
)

// Specific errors. Tests check these; the edge checks the kinds, and only
// looks at a specific error to choose its words.
var (
	ErrUserNotFound        = fmt.Errorf("user not found: %w", ErrNotFound)
	ErrEmailTaken          = fmt.Errorf("email already exists: %w", ErrRejected)
	ErrNicknameTaken       = fmt.Errorf("nickname already exists: %w", ErrRejected)
	ErrInvalidCredentials  = fmt.Errorf("incorrect email or password: %w", ErrUnauthenticated)
	ErrEmailNotVerified    = fmt.Errorf("email not verified: %w", ErrUnauthenticated)
	ErrAccountLocked       = fmt.Errorf("account locked: %w", ErrRejected)
	ErrInvalidToken        = fmt.Errorf("invalid token: %w", ErrUnauthenticated)
	ErrNotPermitted        = fmt.Errorf("operation not permitted: %w", ErrForbidden)
	ErrLastAdmin           = fmt.Errorf("the last admin cannot be removed or demoted: %w", ErrConflict)
	ErrInvalidVerification = fmt.Errorf("invalid or expired verification token: %w", ErrRejected)
	ErrInvalidResetToken   = fmt.Errorf("invalid or expired reset token: %w", ErrRejected)
	ErrInvalidRefreshToken = fmt.Errorf("invalid refresh token: %w", ErrUnauthenticated)
	// ErrRefreshTokenReused: a rotated refresh token came back, so it was
	// stolen or replayed; its whole session is revoked.
	ErrRefreshTokenReused = fmt.Errorf("refresh token reused: %w", ErrInvalidRefreshToken)
	ErrWrongPassword      = fmt.Errorf("wrong password: %w", ErrRejected)
	// ErrPasswordChanged: a password was checked against a hash that was
	// replaced by another password meanwhile, so the check proves nothing.
	ErrPasswordChanged    = fmt.Errorf("the password changed while it was checked: %w", ErrWrongPassword)
	ErrInvalidUnlockToken = fmt.Errorf("invalid or expired unlock token: %w", ErrRejected)
	ErrSessionNotFound    = fmt.Errorf("session not found: %w", ErrNotFound)
	// ErrLoginBusy means every login slot of the account is taken by attempts
	// still being checked; the caller waits and tries again, it is never shown.
	ErrLoginBusy = fmt.Errorf("login attempts in flight: %w", ErrUnavailable)
	// ErrNicknameExhausted: no free generated nickname was found.
	ErrNicknameExhausted = fmt.Errorf("could not generate a unique nickname: %w", ErrUnavailable)

	// The second factor (PRODUCT.md 8.1).
	ErrMFAEnabled    = fmt.Errorf("second factor already enabled: %w", ErrConflict)
	ErrMFANotEnabled = fmt.Errorf("second factor not enabled: %w", ErrConflict)
	ErrNoPendingMFA  = fmt.Errorf("no second factor pending confirmation: %w", ErrConflict)
	// ErrInvalidCode: a wrong, spent or malformed code where the caller is
	// known (enrolment, disabling, new recovery codes).
	ErrInvalidCode = fmt.Errorf("invalid code: %w", ErrRejected)
	// ErrSecondFactorFailed: the same at a login, which it leaves
	// unauthenticated.
	ErrSecondFactorFailed = fmt.Errorf("invalid second-factor code: %w", ErrUnauthenticated)
	ErrInvalidMFAToken    = fmt.Errorf("invalid or expired MFA token: %w", ErrUnauthenticated)
	// ErrSecondFactorRequired: the password was right, and a code must follow.
	ErrSecondFactorRequired = fmt.Errorf("second factor required: %w", ErrForbidden)
	// ErrNoPassword: the account has no password yet (an invitation not
	// accepted). It wraps ErrInvalidCredentials: a login is answered
	// exactly as for an unknown email.
	ErrNoPassword                = fmt.Errorf("no password set: %w", ErrInvalidCredentials)
	ErrInvalidEmailChangeToken   = fmt.Errorf("invalid or expired email change token: %w", ErrRejected)
	ErrInvalidInvitation         = fmt.Errorf("invalid or expired invitation: %w", ErrRejected)
	ErrInvitationAlreadyAccepted = fmt.Errorf("invitation already accepted: %w", ErrConflict)
)

// Code says what is wrong with one input field. Codes are stable machine
// identifiers, not prose: the edge owns the words (adapters/httpapi keeps
// the seed's), so the rules can be read and tested without them. Use cases
// may declare codes of their own checks.
type Code string

// Codes of the domain's checks. The comment says which FieldError
// parameters a code sets.
const (
	CodeRequired    Code = "required"     // a value is needed
	CodeInvalidUTF8 Code = "invalid_utf8" // text that is not valid UTF-8
	CodeTooShort    Code = "too_short"    // fewer characters than Min
	CodeTooLong     Code = "too_long"     // more characters than Max
	CodePattern     Code = "pattern"      // text that does not match the pattern Values[0]
	CodeTooSmall    Code = "too_small"    // a number below Min
	CodeTooLarge    Code = "too_large"    // a number above Max
	CodeOutOfRange  Code = "out_of_range" // a number outside Min..Max
	CodeNotOneOf    Code = "not_one_of"   // not one of Values; Got is the value refused, when it helps
	CodeNotUUID     Code = "not_uuid"     // not a UUID

	// Why an email address is refused.
	CodeEmailInvalidUTF8 Code = "email_invalid_utf8"
	CodeEmailEmpty       Code = "email_empty"
	CodeEmailTooLong     Code = "email_too_long" // more characters than Max
	CodeEmailAtSign      Code = "email_at_sign"  // not exactly one @ with text on each side
	CodeEmailLocalPart   Code = "email_local_part"
	CodeEmailNoDot       Code = "email_no_dot" // a domain without a dot
	CodeEmailDomain      Code = "email_domain"
	CodeEmailSyntax      Code = "email_syntax" // anything else RFC 5322 refuses

	// Why a URL is refused.
	CodeURLInvalidUTF8 Code = "url_invalid_utf8"
	CodeURLNotAbsolute Code = "url_not_absolute" // not an absolute http(s) URL with a host
	CodeURLNotImage    Code = "url_not_image"    // the path does not end in one of the extensions Values
	CodeURLWrongHost   Code = "url_wrong_host"   // not on the host Values[0] or one of its subdomains

	// Why a password is refused (beyond its length and encoding).
	CodePasswordCommon     Code = "password_common"
	CodePasswordIsEmail    Code = "password_is_email"
	CodePasswordIsNickname Code = "password_is_nickname"

	// CodeEmailUnchanged: an email change to the address the account has.
	CodeEmailUnchanged Code = "email_unchanged"
)

// FieldError is one invalid input field: which field, what is wrong (a
// code) and the parameters of the rule it broke. It holds no prose.
type FieldError struct {
	Field  string   // JSON name, e.g. "email"; empty when the input as a whole is wrong
	Code   Code     // what is wrong
	Min    int      // the lower bound broken, for codes that say so
	Max    int      // the upper bound broken, for codes that say so
	Values []string // what would be accepted, for codes that say so
	Got    string   // the value refused, for codes that say so; empty: not echoed
}

func (f FieldError) String() string {
	if f.Field == "" {
		return string(f.Code)
	}
	return f.Field + ": " + string(f.Code)
}

// ValidationError lists every invalid field of one input. It wraps ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

// Error is a short summary for logs, e.g. "invalid input: email:
// email_at_sign (and 1 more)"; clients get the fields.
func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid input"
	}
	msg := "invalid input: " + e.Fields[0].String()
	if n := len(e.Fields) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Add records a field failure.
func (e *ValidationError) Add(f FieldError) {
	e.Fields = append(e.Fields, f)
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
func FieldInvalid(f FieldError) error {
	return &ValidationError{Fields: []FieldError{f}}
}
