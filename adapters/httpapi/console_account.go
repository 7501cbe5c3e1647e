package httpapi

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The pages of every signed-in person (/account): profile, password,
// sessions, the second factor and the email change.

type accountView struct {
	User userView
}

// me is the signed-in person's account, as authentication read it.
func (c *console) me(r *http.Request, s consoleSession) (*domain.User, error) {
	if s.actor.User != nil {
		return s.actor.User, nil
	}
	return c.uc.Me(r.Context(), s.actor)
}

func (c *console) handleAccount(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.showAccount(w, r, s, http.StatusOK, nil)
}

func (c *console) showAccount(w http.ResponseWriter, r *http.Request, s consoleSession, status int, errs []string) {
	u, err := c.me(r, s)
	if err != nil {
		c.fail(w, r, s, "Your account", err)
		return
	}
	v := c.view(s, "account", "/account", "Your account", accountView{User: viewUser(u)})
	v.Errors = errs
	if errs == nil {
		v.Flash = flash(r)
	}
	c.render(w, r, status, "account", v)
}

func (c *console) handleUpdateProfile(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	in := app.UpdateMeInput{Nickname: formField(form, "nickname"), Profile: domain.ProfilePatch{
		FirstName: formField(form, "first_name"), LastName: formField(form, "last_name"),
		Bio: formField(form, "bio"), PreferredLanguage: formField(form, "preferred_language"),
	}}
	u, err := c.uc.UpdateMe(r.Context(), s.actor, in)
	if err != nil {
		status, msgs := c.describeError(r, err)
		c.showAccount(w, r, s, status, msgs)
		return
	}
	s.actor.User = u
	redirect(w, "/account?done=profile")
}

// --- password -------------------------------------------------------------

func (c *console) handlePasswordPage(w http.ResponseWriter, r *http.Request, s consoleSession) {
	v := c.view(s, "account", "/account/password", "Change your password", nil)
	v.Flash = flash(r)
	c.render(w, r, http.StatusOK, "password", v)
}

func (c *console) handleChangePassword(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	v := c.view(s, "account", "/account/password", "Change your password", nil)
	if form.Get("new_password") != form.Get("repeat_password") {
		v.Errors = []string{"The two new passwords differ."}
		c.render(w, r, http.StatusUnprocessableEntity, "password", v)
		return
	}
	if err := c.uc.ChangePassword(r.Context(), s.actor, form.Get("current_password"), form.Get("new_password")); err != nil {
		var status int
		status, v.Errors = c.describeError(r, err)
		c.render(w, r, status, "password", v)
		return
	}
	redirect(w, "/account/password?done=password")
}

// --- sessions -------------------------------------------------------------

type sessionsView struct {
	Sessions []sessionView
	Others   bool // sessions besides the current one
}

func (c *console) handleSessions(w http.ResponseWriter, r *http.Request, s consoleSession) {
	list, err := c.uc.ListMySessions(r.Context(), s.actor)
	if err != nil {
		c.fail(w, r, s, "Your sessions", err)
		return
	}
	var data sessionsView
	for _, si := range list {
		data.Sessions = append(data.Sessions, sessionView{si})
		data.Others = data.Others || !si.Current
	}
	v := c.view(s, "account", "/account/sessions", "Your sessions", data)
	v.Flash = flash(r)
	c.render(w, r, http.StatusOK, "sessions", v)
}

func (c *console) handleEndSession(w http.ResponseWriter, r *http.Request, s consoleSession, _ url.Values) {
	id := pathVars(r)["session_id"]
	if id == s.actor.SessionID {
		// Ending this browser's own session is signing out.
		c.handleSignOut(w, r, s, nil)
		return
	}
	if err := c.uc.EndMySession(r.Context(), s.actor, id); err != nil {
		c.fail(w, r, s, "Your sessions", err)
		return
	}
	redirect(w, "/account/sessions?done=session")
}

func (c *console) handleEndOtherSessions(w http.ResponseWriter, r *http.Request, s consoleSession, _ url.Values) {
	if err := c.uc.EndMyOtherSessions(r.Context(), s.actor); err != nil {
		c.fail(w, r, s, "Your sessions", err)
		return
	}
	redirect(w, "/account/sessions?done=others")
}

// --- the second factor -------------------------------------------------------

type twoFactorView struct {
	Enabled       bool
	Enrolment     *app.TOTPEnrolment // a new secret, shown once
	QR            template.HTML      // its otpauth URI as an inline SVG QR code
	RecoveryCodes []string           // shown once
}

func (c *console) handleTwoFactor(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.showTwoFactor(w, r, s, http.StatusOK, twoFactorView{}, nil)
}

func (c *console) showTwoFactor(w http.ResponseWriter, r *http.Request, s consoleSession, status int, data twoFactorView, errs []string) {
	u, err := c.uc.Me(r.Context(), s.actor) // read again: a step may just have changed it
	if err != nil {
		c.fail(w, r, s, "Two-factor sign-in", err)
		return
	}
	data.Enabled = u.MFAEnabled()
	v := c.view(s, "account", "/account/two-factor", "Two-factor sign-in", data)
	v.Errors = errs
	if errs == nil && data.Enrolment == nil && data.RecoveryCodes == nil {
		v.Flash = flash(r)
	}
	c.render(w, r, status, "twofactor", v)
}

// handleTwoFactorStep: POST /account/two-factor/{enrol,confirm,recovery-codes,disable}.
// The answers that show a secret or codes are pages, never redirects, so
// they are shown once and kept nowhere (Cache-Control: no-store).
func (c *console) handleTwoFactorStep(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	ctx := r.Context()
	switch pathVars(r)["step"] {
	case "enrol":
		e, err := c.uc.EnrolTOTP(ctx, s.actor, form.Get("password"))
		if err != nil {
			c.twoFactorFailed(w, r, s, twoFactorView{}, err)
			return
		}
		qr, err := qrSVG(e.URI)
		if err != nil {
			c.fail(w, r, s, "Two-factor sign-in", err)
			return
		}
		c.showTwoFactor(w, r, s, http.StatusOK, twoFactorView{Enrolment: &e, QR: qr}, nil)
	case "confirm":
		codes, err := c.uc.ConfirmTOTP(ctx, s.actor, form.Get("code"))
		if err != nil {
			c.twoFactorFailed(w, r, s, twoFactorView{}, err)
			return
		}
		c.showTwoFactor(w, r, s, http.StatusOK, twoFactorView{RecoveryCodes: codes}, nil)
	case "recovery-codes":
		codes, err := c.uc.RegenerateRecoveryCodes(ctx, s.actor, form.Get("code"))
		if err != nil {
			c.twoFactorFailed(w, r, s, twoFactorView{}, err)
			return
		}
		c.showTwoFactor(w, r, s, http.StatusOK, twoFactorView{RecoveryCodes: codes}, nil)
	case "disable":
		if err := c.uc.DisableTOTP(ctx, s.actor, form.Get("password"), form.Get("code")); err != nil {
			c.twoFactorFailed(w, r, s, twoFactorView{}, err)
			return
		}
		redirect(w, "/account/two-factor?done=mfa-off")
	default:
		c.renderMessage(w, r, s, http.StatusNotFound, "Not found", "There is no such step.", "/account/two-factor", "Two-factor sign-in")
	}
}

func (c *console) twoFactorFailed(w http.ResponseWriter, r *http.Request, s consoleSession, data twoFactorView, err error) {
	status, msgs := c.describeError(r, err)
	if status >= 500 {
		c.fail(w, r, s, "Two-factor sign-in", err)
		return
	}
	if errors.Is(err, domain.ErrNoPendingMFA) {
		msgs = []string{"Nothing is waiting for a code: set the second factor up again."}
	}
	c.showTwoFactor(w, r, s, status, data, msgs)
}

// --- email change ------------------------------------------------------------------

type emailView struct{ Email string }

func (c *console) handleEmailPage(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.showEmail(w, r, s, http.StatusOK, nil)
}

func (c *console) showEmail(w http.ResponseWriter, r *http.Request, s consoleSession, status int, errs []string) {
	u, err := c.me(r, s)
	if err != nil {
		c.fail(w, r, s, "Change your email", err)
		return
	}
	v := c.view(s, "account", "/account/email", "Change your email", emailView{Email: u.Email()})
	v.Errors = errs
	if errs == nil {
		v.Flash = flash(r)
	}
	c.render(w, r, status, "email", v)
}

// handleRequestEmailChange is POST /users/me/email's rules (its rate
// limits included) behind a form.
func (c *console) handleRequestEmailChange(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	if ok, _ := c.lim.allowIP(r, limitEmailChange); !ok {
		c.showEmail(w, r, s, http.StatusTooManyRequests, []string{detailTooManyRequests + "."})
		return
	}
	if ok, _ := c.lim.accountIn(r.Context(), limitEmailChange, s.actor.ID); !ok {
		c.showEmail(w, r, s, http.StatusTooManyRequests, []string{detailTooManyRequests + "."})
		return
	}
	if err := c.uc.RequestEmailChange(r.Context(), s.actor, form.Get("new_email"), form.Get("password")); err != nil {
		status, msgs := c.describeError(r, err)
		c.showEmail(w, r, s, status, msgs)
		return
	}
	redirect(w, "/account/email?done=email")
}

// --- deleting one's own account ---------------------------------------------

func (c *console) handleLeavePage(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.render(w, r, http.StatusOK, "leave", c.view(s, "account", "/account", "Delete your account", nil))
}

// handleLeave deletes the signed-in person's account as DELETE /users/me
// does (their password again, the lockout counting a wrong one, the last
// ADMIN kept), then forgets the browser's cookies: the session went with it.
func (c *console) handleLeave(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	if err := c.uc.DeleteMe(r.Context(), s.actor, form.Get("password")); err != nil {
		v := c.view(s, "account", "/account", "Delete your account", nil)
		var status int
		status, v.Errors = c.describeError(r, err)
		c.render(w, r, status, "leave", v)
		return
	}
	c.clearSession(w)
	redirect(w, "/account?done=account-deleted")
}
