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
	detailInvalidToken       = "Invalid or expired token"
)

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

// errorMode says which status table a route follows: the seed's routes
// answer a duplicate with 400, ours with 409 (STYLE.md).
type errorMode int

const (
	seedRoute errorMode = iota
	newRoute
)

// writeError maps an error to its status and body, once, for every handler.
// loc is where validation errors point ("body" or "query").
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, mode errorMode, loc string, err error) {
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve):
		items := make([]validationItem, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			l := []any{loc}
			if f.Field != "" {
				l = append(l, f.Field)
			}
			items = append(items, validationItem{Loc: l, Msg: f.Msg, Type: f.Type})
		}
		writeJSON(w, http.StatusUnprocessableEntity, problem{Detail: items})
	case errors.Is(err, domain.ErrInvalidCredentials):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeDetail(w, http.StatusUnauthorized, detailIncorrectLogin)
	case errors.Is(err, domain.ErrEmailNotVerified):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeDetail(w, http.StatusUnauthorized, detailNotVerified)
	case errors.Is(err, domain.ErrAccountLocked):
		writeDetail(w, http.StatusBadRequest, detailLocked)
	case errors.Is(err, domain.ErrInvalidVerification):
		writeDetail(w, http.StatusBadRequest, detailInvalidVerify)
	case errors.Is(err, domain.ErrInvalidResetToken):
		writeDetail(w, http.StatusBadRequest, detailInvalidReset)
	case errors.Is(err, domain.ErrInvalidUnlockToken):
		writeDetail(w, http.StatusBadRequest, detailInvalidToken)
	case errors.Is(err, domain.ErrWrongPassword):
		writeDetail(w, http.StatusBadRequest, detailWrongPassword)
	case errors.Is(err, domain.ErrInvalidRefreshToken):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeDetail(w, http.StatusUnauthorized, detailInvalidRefresh)
	case errors.Is(err, domain.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeDetail(w, http.StatusUnauthorized, detailBadCredentials)
	case errors.Is(err, domain.ErrForbidden):
		writeDetail(w, http.StatusForbidden, detailNotPermitted)
	case errors.Is(err, domain.ErrUserNotFound), errors.Is(err, domain.ErrNotFound):
		writeDetail(w, http.StatusNotFound, detailUserNotFound)
	case errors.Is(err, domain.ErrLastAdmin):
		writeDetail(w, http.StatusConflict, detailLastAdmin)
	case errors.Is(err, domain.ErrEmailTaken):
		writeDetail(w, conflictStatus(mode), detailEmailExists)
	case errors.Is(err, domain.ErrNicknameTaken):
		writeDetail(w, conflictStatus(mode), detailNicknameExists)
	case errors.Is(err, domain.ErrConflict):
		writeDetail(w, conflictStatus(mode), "Conflict")
	case errors.Is(err, domain.ErrInvalid):
		writeDetail(w, http.StatusUnprocessableEntity, "Invalid input")
	case errors.Is(err, domain.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeDetail(w, http.StatusServiceUnavailable, detailUnavailable)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		id := requestID(r.Context())
		log.ErrorContext(r.Context(), "internal error", "request_id", id,
			"method", r.Method, "route", routeName(r), "error", err)
		writeJSON(w, http.StatusInternalServerError, problem{Detail: detailInternal, RequestID: id})
	}
}

func conflictStatus(mode errorMode) int {
	if mode == seedRoute {
		return http.StatusBadRequest
	}
	return http.StatusConflict
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, problem{Detail: detail})
}
