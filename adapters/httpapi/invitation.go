package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// Invitations (PRODUCT.md 8.4): staff invite, the invited person sets a
// password with the link and is signed in.

type inviter interface {
	InviteUser(ctx context.Context, actor domain.Actor, in app.InviteInput) (*domain.User, error)
	ResendInvitation(ctx context.Context, actor domain.Actor, userID string) error
	AcceptInvitation(ctx context.Context, in app.AcceptInvitationInput) (app.LoginResult, error)
}

// inviteFields are those of POST /users/invite: a new user's, but no password.
var inviteFields = append([]string{"email", "nickname", "role"}, profileFields...)

func handleInviteUser(log *slog.Logger, uc inviter) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow(inviteFields...)
		in := app.InviteInput{Profile: readProfile(o), Role: readRole(o, false)}
		if s := o.str("email", true, false); s != nil {
			in.Email = *s
		}
		if s := o.str("nickname", false, true); s != nil {
			if *s == "" { // absent means "generate one"; empty is a mistake
				o.fail("nickname", "string_too_short", "String should have at least 3 characters")
			}
			in.Nickname = *s
		}
		if writeDecodeError(w, o.err()) {
			return
		}
		u, err := uc.InviteUser(r.Context(), actor, in)
		respondUser(w, r, log, http.StatusCreated, u, err)
	}
}

func handleResendInvitation(log *slog.Logger, uc inviter) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.ResendInvitation(r.Context(), actor, pathVars(r)["user_id"]); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"message": "A new invitation link has been sent; the earlier one no longer works."})
	}
}

// invitationTitle heads the invitation pages.
const invitationTitle = "Set up your account"

// handleInvitationPage shows the form behind an invitation link. The form
// posts to POST /invitations/accept; it works without JavaScript.
func handleInvitationPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if token == "" || len(token) > 512 {
			writePage(w, http.StatusBadRequest, pageData{Title: invitationTitle, Message: detailInvalidInvitation + ".", IsError: true})
			return
		}
		writePage(w, http.StatusOK, invitationForm(token, "You have been invited: choose a password to finish setting up your account.", false))
	})
}

// invitationForm is the page with the form that accepts an invitation.
func invitationForm(token, message string, isError bool) pageData {
	return pageData{
		Title: invitationTitle, Message: message, IsError: isError,
		Token: token, Action: "/invitations/accept", PasswordField: "password",
	}
}

// handleAcceptInvitation takes {"token","password"} (the API: the answer
// is /login/'s, the person signed in) or the invitation page's form (the
// password is set and a page says so; no session is opened for a page
// that could not hold its tokens).
func handleAcceptInvitation(log *slog.Logger, uc inviter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mediaType(r) == "application/x-www-form-urlencoded" {
			acceptInvitationForm(w, r, log, uc)
			return
		}
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("token", "password")
		token := o.str("token", true, false)
		password := o.str("password", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		res, err := uc.AcceptInvitation(r.Context(), app.AcceptInvitationInput{Token: *token, Password: *password, SignIn: true})
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeToken(w, res)
	})
}

func acceptInvitationForm(w http.ResponseWriter, r *http.Request, log *slog.Logger, uc inviter) {
	body, err := readBody(w, r)
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil {
		writePage(w, http.StatusBadRequest, pageData{Title: invitationTitle, Message: "The form could not be read.", IsError: true})
		return
	}
	token, password := form.Get("token"), form.Get("password")
	if password != form.Get("repeat_password") {
		writePage(w, http.StatusUnprocessableEntity, invitationForm(token, "The two passwords differ.", true))
		return
	}
	_, err = uc.AcceptInvitation(r.Context(), app.AcceptInvitationInput{Token: token, Password: password})
	var ve *domain.ValidationError
	switch {
	case err == nil:
		writePage(w, http.StatusOK, pageData{Title: "Your account is ready",
			Message: "Your password is set and your email verified: you can log in now."})
	case errors.As(err, &ve):
		_, msg := describe(ve.Fields[0])
		writePage(w, http.StatusUnprocessableEntity, invitationForm(token, msg, true))
	case errors.Is(err, domain.ErrInvalidInvitation):
		writePage(w, http.StatusBadRequest, pageData{Title: invitationTitle, Message: detailInvalidInvitation + ".", IsError: true})
	case errors.Is(err, domain.ErrAccountLocked):
		writePage(w, http.StatusBadRequest, pageData{Title: invitationTitle, Message: "This account is locked: ask the people who invited you.", IsError: true})
	default:
		writePageError(w, r, log, invitationTitle, err)
	}
}
