package httpapi

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/usersvc/usersvc/domain"
)

// Pages are what a person sees after following a link from an email: the
// API answers JSON, a browser gets HTML.

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · usersvc</title>
<link rel="stylesheet" href="{{.CSS}}"></head>
<body><header class="top"><div class="bar"><a class="brand" href="/account">usersvc</a></div></header>
<main id="main"><h1>{{.Title}}</h1>
<div class="narrow card">
{{if .Message}}{{if .IsError}}<div class="errors" role="alert"><p>{{.Message}}</p></div>{{else}}<p>{{.Message}}</p>{{end}}{{end}}
{{if .Button}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">{{.Button}}</button></form>
{{else if .Token}}<form method="post" action="{{with .Action}}{{.}}{{else}}/password-reset{{end}}">
<input type="hidden" name="token" value="{{.Token}}">
<label for="p1">New password</label><input id="p1" name="{{with .PasswordField}}{{.}}{{else}}new_password{{end}}" type="password" minlength="8" maxlength="128" autocomplete="new-password" required>
<label for="p2">Repeat it</label><input id="p2" name="repeat_password" type="password" minlength="8" maxlength="128" autocomplete="new-password" required>
<button type="submit">Set password</button></form>{{else}}<p><a href="/account">Go to your account</a></p>{{end}}
</div>
</main></body></html>`))

type pageData struct {
	Title   string
	Message string
	IsError bool
	Token   string
	// Action and Button make the page one button that posts Token to
	// Action (links that change something are confirmed, not followed:
	// mail scanners follow links); without a Button a Token shows a form
	// that sets a password, posted to Action (default /password-reset) in
	// the field PasswordField (default new_password) with repeat_password.
	Action        string
	Button        string
	PasswordField string
	CSS           string // the console's stylesheet, which these pages share
}

func writePage(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", consoleCSP)
	w.WriteHeader(status)
	d.CSS = consoleStyles.path
	_ = pageTemplate.Execute(w, d)
}

// wantsHTML reports whether the client is a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// handleResetPage shows the form behind a reset link.
func handleResetPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if token == "" || len(token) > 512 {
			writePage(w, http.StatusBadRequest, pageData{Title: "Reset your password", Message: detailInvalidReset + ".", IsError: true})
			return
		}
		writePage(w, http.StatusOK, pageData{Title: "Reset your password", Token: token})
	})
}

// handleResetForm takes the page's form and shows the outcome.
func handleResetForm(log *slog.Logger, uc recoverer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		form, perr := url.ParseQuery(string(body))
		if err != nil || perr != nil || mediaType(r) != "application/x-www-form-urlencoded" {
			writePage(w, http.StatusBadRequest, pageData{Title: "Reset your password", Message: "The form could not be read.", IsError: true})
			return
		}
		token, password := form.Get("token"), form.Get("new_password")
		if password != form.Get("repeat_password") {
			writePage(w, http.StatusUnprocessableEntity, pageData{Title: "Reset your password", Message: "The two passwords differ.", IsError: true, Token: token})
			return
		}
		err = uc.ConfirmPasswordReset(r.Context(), token, password)
		var ve *domain.ValidationError
		switch {
		case err == nil:
			writePage(w, http.StatusOK, pageData{Title: "Password changed", Message: "Your password has been reset. You can log in with it now."})
		case errors.As(err, &ve):
			_, msg := describe(ve.Fields[0])
			writePage(w, http.StatusUnprocessableEntity, pageData{Title: "Reset your password", Message: msg, IsError: true, Token: token})
		case errors.Is(err, domain.ErrInvalidResetToken):
			writePage(w, http.StatusBadRequest, pageData{Title: "Reset your password", Message: detailInvalidReset + ".", IsError: true})
		case errors.Is(err, domain.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
			w.Header().Set("Retry-After", "1")
			writePage(w, http.StatusServiceUnavailable, pageData{Title: "Reset your password", Message: "The service is busy: please try again in a moment.", IsError: true, Token: token})
		default:
			id := requestID(r.Context())
			log.ErrorContext(r.Context(), "internal error", "request_id", id, "route", routeName(r), "error", err)
			writePage(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Please try again later (request " + id + ").", IsError: true})
		}
	})
}

// handleUnlockPage shows the button behind the unlock link of a lock email.
func handleUnlockPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if token == "" || len(token) > 512 {
			writePage(w, http.StatusBadRequest, pageData{Title: "Unlock your account", Message: detailInvalidToken + ".", IsError: true})
			return
		}
		writePage(w, http.StatusOK, pageData{
			Title:   "Unlock your account",
			Message: "Your account was locked after too many failed login attempts. Unlock it to log in again with your password.",
			Token:   token, Action: "/unlock", Button: "Unlock my account",
		})
	})
}

type tokenUnlocker interface {
	UnlockWithToken(ctx context.Context, token string) error
}

// handleUnlockWithToken takes {"token"} (the API) or the unlock page's form.
func handleUnlockWithToken(log *slog.Logger, uc tokenUnlocker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mediaType(r) == "application/x-www-form-urlencoded" {
			body, err := readBody(w, r)
			form, perr := url.ParseQuery(string(body))
			if err != nil || perr != nil {
				writePage(w, http.StatusBadRequest, pageData{Title: "Unlock your account", Message: "The form could not be read.", IsError: true})
				return
			}
			switch err := uc.UnlockWithToken(r.Context(), form.Get("token")); {
			case err == nil:
				writePage(w, http.StatusOK, pageData{Title: "Account unlocked", Message: "Your account is unlocked: you can log in again."})
			case errors.Is(err, domain.ErrInvalidUnlockToken):
				writePage(w, http.StatusBadRequest, pageData{Title: "Unlock your account", Message: detailInvalidToken + ".", IsError: true})
			default:
				writePageError(w, r, log, "Unlock your account", err)
			}
			return
		}
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("token")
		token := o.str("token", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		if err := uc.UnlockWithToken(r.Context(), *token); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Account unlocked"})
	})
}

// writePageError shows an unexpected failure behind a page's form.
func writePageError(w http.ResponseWriter, r *http.Request, log *slog.Logger, title string, err error) {
	if errors.Is(err, domain.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		w.Header().Set("Retry-After", "1")
		writePage(w, http.StatusServiceUnavailable, pageData{Title: title, Message: "The service is busy: please try again in a moment.", IsError: true})
		return
	}
	id := requestID(r.Context())
	log.ErrorContext(r.Context(), "internal error", "request_id", id, "route", routeName(r), "error", err)
	writePage(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Please try again later (request " + id + ").", IsError: true})
}
