package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/usersvc/usersvc/domain"
)

// Details of the seed's error bodies; clients match on them.
const (
	detailNotAuthenticated   = "Not authenticated"
	detailBadCredentials     = "Could not validate credentials"
	detailIncorrectLogin     = "Incorrect email or password."
	detailNotVerified        = "Email not verified."
	detailLocked             = "Account locked due to too many failed login attempts."
	detailNotPermitted       = "Operation not permitted"
	detailUserNotFound       = "User not found"
	detailSessionNotFound    = "Session not found"
	detailEmailExists        = "Email already exists"
	detailNicknameExists     = "Nickname already exists"
	detailInvalidVerify      = "Invalid or expired verification token"
	detailLastAdmin          = "The last admin cannot be deleted or demoted"
	detailUnavailable        = "Service temporarily unavailable, try again shortly"
	detailInternal           = "internal error"
	detailBodyTooLarge       = "Request body too large (limit 1 MiB)"
	detailUnsupportedContent = "Unsupported media type: send application/json"
	detailInvalidReset       = "Invalid or expired reset token"
	detailInvalidRefresh     = "Invalid refresh token"
	detailWrongPassword      = "Incorrect password"
	detailInvalidToken       = "Invalid or expired token" //nolint:gosec // words of an answer, not a credential
	detailInvalidInput       = "Invalid input"
	detailRejected           = "Request rejected"
	detailConflict           = "Conflict"
	detailInvalidCode        = "Invalid code"
	detailInvalidMFAToken    = "Invalid or expired MFA token" //nolint:gosec // words for a client, not a credential
	detailMFAEnabled         = "Second factor already enabled"
	detailMFANotEnabled      = "Second factor not enabled"
	detailNoPendingMFA       = "No second factor pending confirmation"
	detailInvalidInvitation  = "Invalid or expired invitation"
	detailInvitationAccepted = "Invitation already accepted"
)

// kindAnswer is how every error of one kind is answered.
type kindAnswer struct {
	kind   error
	status int
	detail string // unless the specific error has words of its own in details
	// header, with value, goes with the status: a 401 names the scheme to
	// authenticate with, a 503 says when to retry.
	header, value string
}

// kindAnswers is the one table from error kind to HTTP status. Every domain
// error wraps exactly one kind, and the kind alone decides the status, on
// every route.
var kindAnswers = []kindAnswer{
	{kind: domain.ErrInvalid, status: http.StatusUnprocessableEntity, detail: detailInvalidInput},
	{kind: domain.ErrRejected, status: http.StatusBadRequest, detail: detailRejected},
	{kind: domain.ErrUnauthenticated, status: http.StatusUnauthorized, detail: detailBadCredentials, header: "WWW-Authenticate", value: "Bearer"},
	{kind: domain.ErrForbidden, status: http.StatusForbidden, detail: detailNotPermitted},
	{kind: domain.ErrNotFound, status: http.StatusNotFound, detail: detailUserNotFound},
	{kind: domain.ErrConflict, status: http.StatusConflict, detail: detailConflict},
	{kind: domain.ErrUnavailable, status: http.StatusServiceUnavailable, detail: detailUnavailable, header: "Retry-After", value: "1"},
}

// details are the seed's words for specific errors. They are checked in
// order with errors.Is, so an error that wraps another (as
// ErrRefreshTokenReused wraps ErrInvalidRefreshToken) must come before it.
var details = []struct {
	err    error
	detail string
}{
	{domain.ErrInvalidCredentials, detailIncorrectLogin},
	{domain.ErrEmailNotVerified, detailNotVerified},
	{domain.ErrInvalidRefreshToken, detailInvalidRefresh},
	{domain.ErrAccountLocked, detailLocked},
	{domain.ErrInvalidVerification, detailInvalidVerify},
	{domain.ErrInvalidResetToken, detailInvalidReset},
	{domain.ErrInvalidUnlockToken, detailInvalidToken},
	{domain.ErrInvalidEmailChangeToken, detailInvalidToken},
	{domain.ErrInvalidInvitation, detailInvalidInvitation},
	{domain.ErrInvitationAlreadyAccepted, detailInvitationAccepted},
	{domain.ErrWrongPassword, detailWrongPassword},
	{domain.ErrEmailTaken, detailEmailExists},
	{domain.ErrNicknameTaken, detailNicknameExists},
	{domain.ErrLastAdmin, detailLastAdmin},
	{domain.ErrSessionNotFound, detailSessionNotFound},
	{domain.ErrWebhookNotFound, detailWebhookNotFound},
	{domain.ErrUserNotFound, detailUserNotFound},
	{domain.ErrInvalidCode, detailInvalidCode},
	{domain.ErrSecondFactorFailed, detailInvalidCode},
	{domain.ErrInvalidMFAToken, detailInvalidMFAToken},
	{domain.ErrSecondFactorRequired, detailSecondFactorRequired},
	{domain.ErrMFAEnabled, detailMFAEnabled},
	{domain.ErrMFANotEnabled, detailMFANotEnabled},
	{domain.ErrNoPendingMFA, detailNoPendingMFA},
}

// answerFor finds the answer of err's kind. A deadline that passed is
// answered as the kind ErrUnavailable: the storage was too slow this time,
// and a retry may succeed.
func answerFor(err error) (kindAnswer, bool) {
	for _, a := range kindAnswers {
		if errors.Is(err, a.kind) {
			return a, true
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return answerFor(domain.ErrUnavailable)
	}
	return kindAnswer{}, false
}

// detailFor returns the words for err, answered as a: those of the first
// specific error err wraps, else those of its kind.
func detailFor(err error, a kindAnswer) string {
	for _, d := range details {
		if errors.Is(err, d.err) && errors.Is(d.err, a.kind) {
			return d.detail
		}
	}
	return a.detail
}

// problem is the error body: FastAPI's {"detail": …}, plus the request id
// where it helps an operator find the log line.
type problem struct {
	Detail    any    `json:"detail"`
	RequestID string `json:"request_id,omitempty"`
}

// validationItem is one entry of a FastAPI 422 body.
type validationItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// writeError answers err, once, for every handler: a validation error as
// FastAPI's 422 list, whose items point into loc ("body", "query" or
// "path"); any other error of a known kind with that kind's status; an
// unexpected error as a 500 that is logged and says nothing.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, loc string, err error) {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusUnprocessableEntity, problem{Detail: validationItems(loc, ve)})
		return
	}
	if a, ok := answerFor(err); ok {
		if a.header != "" {
			w.Header().Set(a.header, a.value)
		}
		writeDetail(w, a.status, detailFor(err, a))
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
		return
	}
	id := requestID(r.Context())
	log.ErrorContext(r.Context(), "internal error", "request_id", id,
		"method", r.Method, "route", routeName(r), "error", err)
	writeJSON(w, http.StatusInternalServerError, problem{Detail: detailInternal, RequestID: id})
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, problem{Detail: detail})
}
