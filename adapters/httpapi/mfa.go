package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The second factor (PRODUCT.md 8.1): the caller's own TOTP and recovery
// codes, an ADMIN's reset, and the second step of a login.

// detailSecondFactorRequired is the detail of /login/'s 403 that asks for
// the second step.
const detailSecondFactorRequired = "Second factor required"

type secondFactorManager interface {
	EnrolTOTP(ctx context.Context, actor domain.Actor, password string) (app.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, actor domain.Actor, code string) ([]string, error)
	DisableTOTP(ctx context.Context, actor domain.Actor, password, code string) error
	RegenerateRecoveryCodes(ctx context.Context, actor domain.Actor, code string) ([]string, error)
}

type secondFactorResetter interface {
	ResetSecondFactor(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error)
}

type secondFactorLoginer interface {
	LoginSecondFactor(ctx context.Context, mfaToken, code string) (app.LoginResult, error)
}

// totpEnrolmentJSON is a new secret, shown once.
type totpEnrolmentJSON struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

// recoveryCodesJSON is a set of recovery codes, shown once.
type recoveryCodesJSON struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// secondFactorRequiredJSON is /login/'s answer to a right password when a
// second factor is on: a 403 that carries the second step's token.
type secondFactorRequiredJSON struct {
	Detail       string `json:"detail"`
	MFAToken     string `json:"mfa_token"`
	MFAExpiresIn int    `json:"mfa_expires_in"`
}

// writeSecrets answers with a secret the caller sees once: no cache keeps it.
func writeSecrets(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, v)
}

// readStrings decodes a JSON body holding exactly the required string
// fields names, in that order.
func readStrings(w http.ResponseWriter, r *http.Request, names ...string) ([]string, bool) {
	o, err := decodeJSONObject(w, r)
	if writeDecodeError(w, err) {
		return nil, false
	}
	o.allow(names...)
	out := make([]string, len(names))
	for i, n := range names {
		if s := o.str(n, true, false); s != nil {
			out[i] = *s
		}
	}
	if writeDecodeError(w, o.err()) {
		return nil, false
	}
	return out, true
}

// handleEnrolTOTP: POST /users/me/mfa/totp {"password"}.
func handleEnrolTOTP(log *slog.Logger, uc secondFactorManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		in, ok := readStrings(w, r, "password")
		if !ok {
			return
		}
		e, err := uc.EnrolTOTP(r.Context(), actor, in[0])
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeSecrets(w, totpEnrolmentJSON{Secret: e.Secret, OTPAuthURI: e.URI})
	}
}

// handleConfirmTOTP: POST /users/me/mfa/totp/confirm {"code"}.
func handleConfirmTOTP(log *slog.Logger, uc secondFactorManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		in, ok := readStrings(w, r, "code")
		if !ok {
			return
		}
		codes, err := uc.ConfirmTOTP(r.Context(), actor, in[0])
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeSecrets(w, recoveryCodesJSON{RecoveryCodes: codes})
	}
}

// handleDisableTOTP: DELETE /users/me/mfa/totp {"password","code"}.
func handleDisableTOTP(log *slog.Logger, uc secondFactorManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		in, ok := readStrings(w, r, "password", "code")
		if !ok {
			return
		}
		if err := uc.DisableTOTP(r.Context(), actor, in[0], in[1]); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleRegenerateRecoveryCodes: POST /users/me/mfa/recovery-codes {"code"}.
func handleRegenerateRecoveryCodes(log *slog.Logger, uc secondFactorManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		in, ok := readStrings(w, r, "code")
		if !ok {
			return
		}
		codes, err := uc.RegenerateRecoveryCodes(r.Context(), actor, in[0])
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeSecrets(w, recoveryCodesJSON{RecoveryCodes: codes})
	}
}

// handleResetSecondFactor: POST /users/{user_id}/mfa/reset, for an ADMIN.
func handleResetSecondFactor(log *slog.Logger, uc secondFactorResetter) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.ResetSecondFactor(r.Context(), actor, pathVars(r)["user_id"])
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

// handleLoginSecondFactor: POST /login/mfa {"mfa_token","code"}, answered
// as /login/ is.
func handleLoginSecondFactor(log *slog.Logger, uc secondFactorLoginer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, ok := readStrings(w, r, "mfa_token", "code")
		if !ok {
			return
		}
		res, err := uc.LoginSecondFactor(r.Context(), in[0], in[1])
		if err != nil {
			writeLoginError(w, r, log, err)
			return
		}
		writeToken(w, res)
	})
}

// writeLoginError answers a failed login: writeError's answer, but for the
// right password of an account with a second factor, which is a 403 that
// carries the token of the second step.
func writeLoginError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var req *app.SecondFactorRequiredError
	if errors.As(err, &req) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, http.StatusForbidden, secondFactorRequiredJSON{
			Detail: detailSecondFactorRequired, MFAToken: req.Token, MFAExpiresIn: int(req.ExpiresIn.Seconds()),
		})
		return
	}
	writeError(w, r, log, "body", err)
}
