package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// Signing in to the console: the rules of /login/ and /login/mfa (the same
// use cases, the same rate limits), answered with pages.

// signInData is the sign-in form: the password step, or, with MFAToken,
// the second factor's.
type signInData struct {
	Next     string // where to go once signed in
	Email    string
	MFAToken string
}

// signInForm shows the sign-in form. Before a session exists its CSRF
// token is a random value kept in a cookie, which the form must echo.
func (c *console) signInForm(w http.ResponseWriter, r *http.Request, status int, d signInData, errs []string) {
	token := c.readCookie(r, cookieSignIn)
	if len(token) < 16 || len(token) > 64 {
		token = rand.Text()
		http.SetCookie(w, c.cookie(cookieSignIn, token, 0))
	}
	v := pageView{Title: "Sign in", Section: "account", CSRF: token, Data: d, Errors: errs}
	if errs == nil && d.MFAToken == "" {
		v.Flash = flash(r)
	}
	if d.MFAToken != "" {
		v.Title = "Enter your code"
	}
	c.render(w, r, status, "signin", v)
}

// signInPost reads a sign-in form posted from this origin with the token
// of the sign-in cookie; otherwise it answers and returns false.
func (c *console) signInPost(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if !sameOrigin(r) {
		c.refuse(w, r, consoleSession{}, "This form was sent from another site.")
		return nil, false
	}
	form, err := readConsoleForm(w, r)
	if err != nil {
		c.renderMessage(w, r, consoleSession{}, http.StatusBadRequest, "Request refused", "The form could not be read.", "/account", "Sign in")
		return nil, false
	}
	cookie, got := c.readCookie(r, cookieSignIn), form.Get("csrf")
	if cookie == "" || got == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(got)) != 1 {
		c.refuse(w, r, consoleSession{}, "This form did not carry the token of this browser.")
		return nil, false
	}
	return form, true
}

// handleSignIn takes the password step: POST /account/sign-in.
func (c *console) handleSignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := c.signInPost(w, r)
		if !ok {
			return
		}
		d := signInData{Next: safeNext(form.Get("next")), Email: form.Get("email")}
		if ok, retry := c.lim.allowIP(r, limitLogin); !ok {
			c.signInLimited(w, r, d, retry)
			return
		}
		if ok, retry := c.lim.accountIn(r.Context(), limitLogin, d.Email); !ok {
			c.signInLimited(w, r, d, retry)
			return
		}
		res, err := c.uc.Login(r.Context(), d.Email, form.Get("password"))
		c.finishSignIn(w, r, d, res, err)
	})
}

// handleSignInCode takes the second factor's step: POST /account/sign-in/code.
func (c *console) handleSignInCode() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := c.signInPost(w, r)
		if !ok {
			return
		}
		d := signInData{Next: safeNext(form.Get("next")), MFAToken: form.Get("mfa_token")}
		if ok, retry := c.lim.allowIP(r, limitLoginMFA); !ok {
			c.signInLimited(w, r, d, retry)
			return
		}
		res, err := c.uc.LoginSecondFactor(r.Context(), d.MFAToken, form.Get("code"))
		if errors.Is(err, domain.ErrInvalidMFAToken) || errors.Is(err, domain.ErrAccountLocked) {
			d.MFAToken = "" // start again with the password
		}
		c.finishSignIn(w, r, d, res, err)
	})
}

// finishSignIn answers a login: signed in (the cookies, then the page
// asked for), the second step, or the form again with the API's words.
func (c *console) finishSignIn(w http.ResponseWriter, r *http.Request, d signInData, res app.LoginResult, err error) {
	var second *app.SecondFactorRequiredError
	switch {
	case err == nil:
		c.setSession(w, res)
		redirect(w, d.Next)
	case errors.As(err, &second):
		d.MFAToken = second.Token
		c.signInForm(w, r, http.StatusOK, d, nil)
	default:
		status, msgs := c.describeError(r, err)
		if errors.Is(err, domain.ErrInvalidMFAToken) {
			msgs = []string{"Your sign-in took too long: enter your password again."}
		}
		c.signInForm(w, r, status, d, msgs)
	}
}

// signInLimited answers a sign-in over its rate limit: 429, Retry-After.
func (c *console) signInLimited(w http.ResponseWriter, r *http.Request, d signInData, retry time.Duration) {
	secs := max(int64(math.Ceil(retry.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	c.signInForm(w, r, http.StatusTooManyRequests, d,
		[]string{"Too many attempts: wait " + strconv.FormatInt(secs, 10) + " seconds and try again."})
}

// handleSignOut ends the browser's session as POST /logout does, with its
// refresh token, and forgets the cookies.
func (c *console) handleSignOut(w http.ResponseWriter, r *http.Request, s consoleSession, _ url.Values) {
	if err := c.uc.Logout(r.Context(), s.actor, c.readCookie(r, cookieRefresh)); err != nil {
		c.fail(w, r, s, "Sign out", err)
		return
	}
	c.clearSession(w)
	redirect(w, "/account?done=signed-out")
}
