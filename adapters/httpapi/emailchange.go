package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/usersvc/usersvc/domain"
)

// The email change of PRODUCT.md 8.3: a password-confirmed request, and a
// link to the new address whose page confirms it.

type emailChanger interface {
	RequestEmailChange(ctx context.Context, actor domain.Actor, newEmail, password string) error
	ConfirmEmailChange(ctx context.Context, token string) (*domain.User, error)
}

// emailChangeAccepted is the answer to every accepted request, whether or
// not the new address was free: the answer must not tell.
const emailChangeAccepted = "If the new address can be used, a link to confirm the change has been sent to it. Nothing changes until it is followed."

func handleRequestEmailChange(log *slog.Logger, lim *limits, uc emailChanger) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("new_email", "password")
		email := o.str("new_email", true, false)
		password := o.str("password", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		// Each request mails an address the caller chose: a per-account
		// limit keeps an account from becoming a mail cannon.
		if !lim.allowAccount(w, r, limitEmailChange, actor.ID) {
			return
		}
		if err := uc.RequestEmailChange(r.Context(), actor, *email, *password); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"message": emailChangeAccepted})
	}
}

// handleEmailChangePage shows the button behind the link of an email
// change: a mail scanner that follows the link confirms nothing.
func handleEmailChangePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const title = "Confirm your new email address"
		token := r.URL.Query().Get("token")
		if token == "" || len(token) > 512 {
			writePage(w, http.StatusBadRequest, pageData{Title: title, Message: detailInvalidToken + ".", IsError: true})
			return
		}
		writePage(w, http.StatusOK, pageData{
			Title:   title,
			Message: "Confirm to make this address the email of your account: you will log in with it, and account mail will come here.",
			Token:   token, Action: "/email-change/confirm", Button: "Confirm my new email",
		})
	})
}

// handleConfirmEmailChange takes {"token"} (the API, answered with the
// user) or the page's form (answered with a page).
func handleConfirmEmailChange(log *slog.Logger, uc emailChanger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const title = "Confirm your new email address"
		if mediaType(r) == "application/x-www-form-urlencoded" {
			body, err := readBody(w, r)
			form, perr := url.ParseQuery(string(body))
			if err != nil || perr != nil {
				writePage(w, http.StatusBadRequest, pageData{Title: title, Message: "The form could not be read.", IsError: true})
				return
			}
			u, err := uc.ConfirmEmailChange(r.Context(), form.Get("token"))
			switch {
			case err == nil:
				writePage(w, http.StatusOK, pageData{Title: "Email changed",
					Message: "Your account's email is now " + u.Email() + ". Log in with it from now on."})
			case errors.Is(err, domain.ErrInvalidEmailChangeToken):
				writePage(w, http.StatusBadRequest, pageData{Title: title, Message: detailInvalidToken + ".", IsError: true})
			case errors.Is(err, domain.ErrEmailTaken):
				writePage(w, http.StatusBadRequest, pageData{Title: title,
					Message: "This address now belongs to another account: your email stays as it was.", IsError: true})
			default:
				writePageError(w, r, log, title, err)
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
		u, err := uc.ConfirmEmailChange(r.Context(), *token)
		respondUser(w, r, log, http.StatusOK, u, err)
	})
}
