package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"

	"github.com/usersvc/usersvc/domain"
)

type loggerOut interface {
	Logout(ctx context.Context, actor domain.Actor, refreshToken string) error
}

// handleLogout ends the caller's session; the body, {"refresh_token"}, is optional.
func handleLogout(log *slog.Logger, uc loggerOut) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		var refresh string
		body, err := readBody(w, r)
		if writeDecodeError(w, err) {
			return
		}
		// The body is optional: absent, empty or chunked with nothing in it.
		if len(bytes.TrimSpace(body)) > 0 {
			if mt := mediaType(r); mt != "" && mt != "application/json" {
				writeDecodeError(w, errUnsupportedMedia)
				return
			}
			o, err := parseJSONObject(body)
			if writeDecodeError(w, err) {
				return
			}
			o.allow("refresh_token")
			if s := o.str("refresh_token", false, true); s != nil {
				refresh = *s
			}
			if writeDecodeError(w, o.err()) {
				return
			}
		}
		if err := uc.Logout(r.Context(), actor, refresh); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type recoverer interface {
	RequestPasswordReset(ctx context.Context, email string) error
	ResendVerification(ctx context.Context, email string) error
	ConfirmPasswordReset(ctx context.Context, token, newPassword string) error
}

// handleEmailRequest serves the two "send me a link" endpoints. The answer
// is the same whether or not the account exists.
func handleEmailRequest(log *slog.Logger, lim *limits, bucket, message string, send func(ctx context.Context, email string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("email")
		email := o.str("email", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		if !lim.allowAccount(w, r, bucket, *email) {
			return
		}
		if err := send(r.Context(), *email); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"message": message})
	})
}

func handleResetConfirm(log *slog.Logger, uc recoverer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("token", "new_password")
		token := o.str("token", true, false)
		password := o.str("new_password", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		if err := uc.ConfirmPasswordReset(r.Context(), *token, *password); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Password has been reset"})
	})
}

type passwordChanger interface {
	ChangePassword(ctx context.Context, actor domain.Actor, current, newPassword string) error
	DeleteMe(ctx context.Context, actor domain.Actor, password string) error
}

func handleChangePassword(log *slog.Logger, uc passwordChanger) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("current_password", "new_password")
		current := o.str("current_password", true, false)
		next := o.str("new_password", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		if err := uc.ChangePassword(r.Context(), actor, *current, *next); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleDeleteMe(log *slog.Logger, uc passwordChanger) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("password")
		password := o.str("password", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		if err := uc.DeleteMe(r.Context(), actor, *password); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
