package httpapi_test

// Section 5 of PRODUCT.md, "Session and recovery endpoints": password
// reset (API and HTML page), resend verification and the self-service rows
// (/users/me, its password, deleting it), written as a client would use them.

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// The links recovery mails (reset, unlock) and the lock that sends one,
// read by every file that follows them.

// lockByHTTP makes maxAttempts wrong-password logins through POST /login/.
func (h *harness) lockByHTTP(email string) {
	h.tb.Helper()
	for range maxAttempts {
		rec := h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {wrongPassword}})
		wantDetail(h.tb, rec, http.StatusUnauthorized, "Incorrect email or password.")
	}
	wantDetail(h.tb, h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {testPassword}}),
		http.StatusBadRequest, "Account locked due to too many failed login attempts.")
}

// resetToken is the token of the last reset link mailed to email; the link
// must be PUBLIC_BASE_URL/password-reset?token=….
func (h *harness) resetToken(email string) string {
	h.tb.Helper()
	msgs := h.mail.sent(email, domain.MessagePasswordReset)
	if len(msgs) == 0 {
		h.tb.Fatalf("no password reset email sent to %s", email)
	}
	link := msgs[len(msgs)-1].Link
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, publicBaseURL+"/password-reset?") || u.Path != "/password-reset" {
		h.tb.Fatalf("reset link %q is not %s/password-reset?token=…", link, publicBaseURL)
	}
	token := u.Query().Get("token")
	if token == "" || len(u.Query()) != 1 {
		h.tb.Fatalf("reset link %q has no token, or more than a token", link)
	}
	return token
}

// unlockToken is the token of the last unlock link mailed to email (with
// a lock notice); the link must be PUBLIC_BASE_URL/unlock?token=….
func (h *harness) unlockToken(email string) string {
	h.tb.Helper()
	msgs := h.mail.sent(email, domain.MessageLocked)
	if len(msgs) == 0 {
		h.tb.Fatalf("no lock email sent to %s", email)
	}
	link := msgs[len(msgs)-1].Link
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, publicBaseURL+"/unlock?") || u.Path != "/unlock" {
		h.tb.Fatalf("unlock link %q is not %s/unlock?token=…", link, publicBaseURL)
	}
	token := u.Query().Get("token")
	if token == "" || len(u.Query()) != 1 {
		h.tb.Fatalf("unlock link %q has no token, or more than a token", link)
	}
	return token
}

// requestReset asks for a reset link through the API and returns its token.
func (h *harness) requestReset(email string) string {
	h.tb.Helper()
	wantStatus(h.tb, h.do(http.MethodPost, "/password-reset/request", "", obj{"email": email}), http.StatusAccepted)
	return h.resetToken(email)
}

// newPassword is a valid password nobody has yet.
const newPassword = "Correct-Horse-Battery-9"

// wantMessage checks a 202 {"message": "…"} and returns the body.
func wantMessage(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	wantStatus(tb, rec, http.StatusAccepted)
	var body map[string]any
	decodeBody(tb, rec, &body)
	if msg, _ := body["message"].(string); msg == "" || len(body) != 1 {
		tb.Errorf("202 body = %s, want {\"message\": …}", rec.Body)
	}
	return rec.Body.String()
}

func TestPasswordResetRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("a known email gets a link to the reset page", func(t *testing.T) {
		a := h.verified("known")
		wantMessage(t, h.do(http.MethodPost, "/password-reset/request", "", obj{"email": a.Email}))
		if tok := h.resetToken(a.Email); len(tok) < 20 {
			t.Errorf("reset token %q is too short to be unguessable", tok)
		}
	})

	t.Run("the email is normalised and the path takes a trailing slash", func(t *testing.T) {
		a := h.verified("norm")
		wantMessage(t, h.do(http.MethodPost, "/password-reset/request/", "", obj{"email": "  " + strings.ToUpper(a.Email) + " "}))
		h.resetToken(a.Email)
	})

	t.Run("malformed", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body any
			loc  []any
		}{
			{"not an email", obj{"email": "nope"}, []any{"body", "email"}},
			{"missing", obj{}, []any{"body", "email"}},
			{"not a string", obj{"email": 5}, []any{"body", "email"}},
			{"null", obj{"email": nil}, []any{"body", "email"}},
			{"unknown field", obj{"email": "a@example.com", "user_id": h.admin.ID}, []any{"body", "user_id"}},
			{"bad JSON", jsonBody(`{"email":`), []any{"body"}},
			{"an array", jsonBody(`["a@example.com"]`), []any{"body"}},
			{"too long", obj{"email": strings.Repeat("a", 300) + "@example.com"}, []any{"body", "email"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantValidation(t, h.do(http.MethodPost, "/password-reset/request", "", tc.body), tc.loc...)
			})
		}
		wantStatus(t, h.do(http.MethodPost, "/password-reset/request", "", rawBody{"text/plain", []byte("a@example.com")}), http.StatusUnsupportedMediaType)
	})
}

// TestPasswordResetDoesNotRevealAccounts: the endpoint cannot be used to
// find out who has an account.
func TestPasswordResetDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	verified := h.verified("v")
	unverified := h.register("u")
	locked := h.verified("l")
	h.lockByHTTP(locked.Email)
	ask := func(email string) *httptest.ResponseRecorder {
		return h.do(http.MethodPost, "/password-reset/request", "", obj{"email": email})
	}
	unknown := ask("nobody@example.com")
	wantMessage(t, unknown)
	for name, email := range map[string]string{
		"verified": verified.Email, "unverified": unverified.Email, "locked": locked.Email,
		"admin": h.admin.Email, "another unknown": "ghost@example.org",
	} {
		wantSameAnswer(t, name+" vs unknown", ask(email), unknown)
	}
	for _, e := range []string{verified.Email, unverified.Email, locked.Email, h.admin.Email} {
		if n := len(h.mail.sent(e, domain.MessagePasswordReset)); n != 1 {
			t.Errorf("%d reset emails to %s, want 1", n, e)
		}
	}
	if n := len(h.mail.sent("nobody@example.com", domain.MessagePasswordReset)); n != 0 {
		t.Errorf("%d reset emails to an unknown address", n)
	}
}

func TestPasswordResetConfirm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	confirm := func(token, password string) *httptest.ResponseRecorder {
		return h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": password})
	}

	t.Run("sets the password", func(t *testing.T) {
		a := h.verified("set")
		rec := confirm(h.requestReset(a.Email), newPassword)
		wantStatus(t, rec, http.StatusOK)
		var body map[string]any
		decodeBody(t, rec, &body)
		if msg, _ := body["message"].(string); msg == "" {
			t.Errorf("200 body = %s, want a message", rec.Body)
		}
		wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
			http.StatusUnauthorized, "Incorrect email or password.")
		h.session(a.Email, newPassword)
	})

	t.Run("unlocks a locked account", func(t *testing.T) {
		a := h.verified("locked")
		s := h.session(a.Email, a.Password)
		h.lockByHTTP(a.Email)
		if !h.getUser(a.ID).IsLocked {
			t.Fatal("not locked after three wrong passwords")
		}
		wantStatus(t, confirm(h.requestReset(a.Email), newPassword), http.StatusOK)
		if h.getUser(a.ID).IsLocked {
			t.Error("still locked after a password reset")
		}
		h.wantTokenAlive(h.session(a.Email, newPassword).AccessToken)
		// What was issued before the lock stays dead.
		h.wantTokenDead(s.AccessToken)
		wantInvalidRefresh(t, h.refresh(s.RefreshToken))
	})

	t.Run("a used token", func(t *testing.T) {
		a := h.verified("used")
		tok := h.requestReset(a.Email)
		wantStatus(t, confirm(tok, newPassword), http.StatusOK)
		wantDetail(t, confirm(tok, "Another-Fine-Passw0rd"), http.StatusBadRequest, "Invalid or expired reset token")
		h.session(a.Email, newPassword) // the second attempt changed nothing
	})

	t.Run("garbage tokens", func(t *testing.T) {
		a := h.verified("garbage")
		tok := h.requestReset(a.Email)
		for _, bad := range []string{"garbage", "", tok + "x", strings.ToLower(tok), tok[:len(tok)-1], strings.Repeat("t", 5000)} {
			wantDetail(t, confirm(bad, newPassword), http.StatusBadRequest, "Invalid or expired reset token")
		}
		wantStatus(t, confirm(tok, newPassword), http.StatusOK)
	})

	t.Run("an expired token", func(t *testing.T) {
		h := newHarness(t) // its own, since its clock moves
		a := h.verified("exp")
		tok := h.requestReset(a.Email)
		h.clock.Advance(time.Hour + time.Second) // RESET_TOKEN_TTL defaults to 1h
		wantDetail(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": tok, "new_password": newPassword}),
			http.StatusBadRequest, "Invalid or expired reset token")
		h.session(a.Email, a.Password)
	})

	t.Run("a newer link replaces the older", func(t *testing.T) {
		a := h.verified("twice")
		older := h.requestReset(a.Email)
		newer := h.requestReset(a.Email)
		if older == newer {
			t.Fatal("two reset requests mailed the same token")
		}
		wantDetail(t, confirm(older, newPassword), http.StatusBadRequest, "Invalid or expired reset token")
		wantStatus(t, confirm(newer, newPassword), http.StatusOK)
	})

	t.Run("a weak password is refused and the token stays usable", func(t *testing.T) {
		a := h.verified("weak")
		tok := h.requestReset(a.Email)
		for _, weak := range []string{"short", "password", "12345678", a.Email, strings.Repeat("x", 129)} {
			wantValidation(t, confirm(tok, weak), "body", "new_password")
		}
		wantStatus(t, confirm(tok, newPassword), http.StatusOK)
	})

	t.Run("malformed", func(t *testing.T) {
		wantValidation(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": "x"}), "body", "new_password")
		wantValidation(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"new_password": newPassword}), "body", "token")
		wantValidation(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": 1, "new_password": newPassword}), "body", "token")
		wantValidation(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": "x", "new_password": newPassword, "email": "a@example.com"}), "body", "email")
		wantStatus(t, h.do(http.MethodPost, "/password-reset/confirm", "",
			form{"token": {"x"}, "new_password": {newPassword}}), http.StatusUnsupportedMediaType)
	})
}

// TestPasswordResetEndsEverySession: whoever had the account's tokens
// (the reason the owner resets) loses them all.
func TestPasswordResetEndsEverySession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("owner")
	s1 := h.session(a.Email, a.Password)
	s2 := h.session(a.Email, a.Password)
	other := h.verified("bystander")
	so := h.session(other.Email, other.Password)

	tok := h.requestReset(a.Email)
	wantStatus(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": tok, "new_password": newPassword}), http.StatusOK)

	for i, s := range []tokenPair{s1, s2} {
		h.wantTokenDead(s.AccessToken)
		if rec := h.refresh(s.RefreshToken); rec.Code != http.StatusUnauthorized {
			t.Errorf("session %d: refresh after the reset: %d, want 401", i+1, rec.Code)
		}
	}
	h.wantTokenAlive(so.AccessToken)
	h.wantTokenAlive(h.session(a.Email, newPassword).AccessToken)
}

// formField finds the value of a form input named name in a page.
func formField(page, name string) (string, bool) {
	m := regexp.MustCompile(`<input[^>]*name="` + regexp.QuoteMeta(name) + `"[^>]*>`).FindString(page)
	if m == "" {
		return "", false
	}
	v := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(m)
	if v == nil {
		return "", true
	}
	return html.UnescapeString(v[1]), true
}

func wantPage(tb testing.TB, rec *httptest.ResponseRecorder, status int) string {
	tb.Helper()
	wantStatus(tb, rec, status)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		tb.Errorf("Content-Type = %q, want text/html", ct)
	}
	wantSecurityHeaders(tb, rec)
	body := rec.Body.String()
	if !strings.HasPrefix(body, "<!DOCTYPE html>") || !strings.Contains(body, "</html>") {
		tb.Errorf("not an HTML page: %s", body)
	}
	return body
}

// TestPasswordResetPage: the page behind the emailed link, for a person
// with a browser.
func TestPasswordResetPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// The link's path and query, as the browser requests it.
	pagePath := func(tok string) string {
		return "/password-reset?token=" + strings.ReplaceAll(strings.ReplaceAll(tok, "%", "%25"), "&", "%26")
	}
	submit := func(tok, p1, p2 string) *httptest.ResponseRecorder {
		req := newRequest(t, http.MethodPost, "/password-reset", "", form{"token": {tok}, "new_password": {p1}, "repeat_password": {p2}})
		req.Header.Set("Accept", "text/html")
		return serve(h.srv, req)
	}

	t.Run("the form, then the new password works", func(t *testing.T) {
		a := h.verified("page")
		tok := h.requestReset(a.Email)
		page := wantPage(t, h.do(http.MethodGet, pagePath(tok), "", nil), http.StatusOK)
		if !regexp.MustCompile(`<form[^>]*method="post"[^>]*action="/password-reset"`).MatchString(page) {
			t.Errorf("no form posting to /password-reset: %s", page)
		}
		if v, ok := formField(page, "token"); !ok || v != tok {
			t.Errorf("hidden token = %q, %v; want %q", v, ok, tok)
		}
		for _, f := range []string{"new_password", "repeat_password"} {
			if _, ok := formField(page, f); !ok {
				t.Errorf("no %s field: %s", f, page)
			}
		}
		done := wantPage(t, submit(tok, newPassword, newPassword), http.StatusOK)
		if strings.Contains(done, "<form") {
			t.Errorf("the page after success still shows the form: %s", done)
		}
		h.session(a.Email, newPassword)
		// The link is spent.
		wantPage(t, submit(tok, "Another-Fine-Passw0rd", "Another-Fine-Passw0rd"), http.StatusBadRequest)
		h.session(a.Email, newPassword)
	})

	t.Run("without the trailing slash or with", func(t *testing.T) {
		wantPage(t, h.do(http.MethodGet, "/password-reset/?token=abc", "", nil), http.StatusOK)
	})

	t.Run("the two passwords differ", func(t *testing.T) {
		a := h.verified("differ")
		tok := h.requestReset(a.Email)
		page := wantPage(t, submit(tok, newPassword, newPassword+"!"), http.StatusUnprocessableEntity)
		if v, _ := formField(page, "token"); v != tok {
			t.Errorf("the form to try again lost the token: %q", v)
		}
		wantPage(t, submit(tok, newPassword, newPassword), http.StatusOK)
	})

	t.Run("a weak password", func(t *testing.T) {
		a := h.verified("weak")
		tok := h.requestReset(a.Email)
		wantPage(t, submit(tok, "password", "password"), http.StatusUnprocessableEntity)
		h.session(a.Email, a.Password)
	})

	t.Run("no token or a bad one", func(t *testing.T) {
		wantPage(t, h.do(http.MethodGet, "/password-reset", "", nil), http.StatusBadRequest)
		wantPage(t, submit("garbage", newPassword, newPassword), http.StatusBadRequest)
	})

	t.Run("a hostile token is escaped", func(t *testing.T) {
		evil := `"><script>alert(1)</script>`
		page := wantPage(t, h.do(http.MethodGet, pagePath(evil), "", nil), http.StatusOK)
		if strings.Contains(page, "<script>") {
			t.Errorf("the token reached the page unescaped: %s", page)
		}
		if v, _ := formField(page, "token"); v != evil {
			t.Errorf("hidden token = %q, want %q", v, evil)
		}
	})
}

// TestResendVerificationDoesNotRevealAccounts: the same answer whether the
// address is unknown, verified or waiting for verification.
func TestResendVerificationDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	unverified := h.register("u")
	verified := h.verified("v")
	firstLink := h.verificationPath(unverified.Email)
	resend := func(email string) *httptest.ResponseRecorder {
		return h.do(http.MethodPost, "/verify-email/resend", "", obj{"email": email})
	}

	unknown := resend("nobody@example.com")
	wantMessage(t, unknown)
	wantSameAnswer(t, "unverified vs unknown", resend(unverified.Email), unknown)
	wantSameAnswer(t, "verified vs unknown", resend(verified.Email), unknown)
	wantSameAnswer(t, "trailing slash", h.do(http.MethodPost, "/verify-email/resend/", "", obj{"email": "x@example.com"}), unknown)

	if n := len(h.mail.sent(unverified.Email, domain.MessageVerifyEmail)); n != 2 {
		t.Errorf("%d verification emails to the unverified user, want 2 (sign-up, resend)", n)
	}
	if n := len(h.mail.sent(verified.Email, domain.MessageVerifyEmail)); n != 1 {
		t.Errorf("%d verification emails to the verified user, want 1 (sign-up only)", n)
	}
	// The new link verifies; the one it replaced does not.
	newLink := h.verificationPath(unverified.Email)
	if newLink == firstLink {
		t.Fatal("the resent link is the first one")
	}
	wantDetail(t, h.do(http.MethodGet, firstLink, "", nil), http.StatusBadRequest, "Invalid or expired verification token")
	wantStatus(t, h.do(http.MethodGet, newLink, "", nil), http.StatusOK)
	h.session(unverified.Email, unverified.Password)
}

func TestResendVerificationMalformed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, body := range []any{obj{"email": "nope"}, obj{}, obj{"email": 5}, obj{"email": "a@example.com", "x": 1}, jsonBody("[")} {
		wantValidation(t, h.do(http.MethodPost, "/verify-email/resend", "", body))
	}
	wantStatus(t, h.do(http.MethodPost, "/verify-email/resend", "", form{"email": {"a@example.com"}}), http.StatusUnsupportedMediaType)
}

func TestMe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("GET", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		for _, path := range []string{"/users/me", "/users/me/"} {
			rec := h.do(http.MethodGet, path, a.Token, nil)
			wantStatus(t, rec, http.StatusOK)
			checkUserKeys(t, rec.Body.Bytes())
			if me := decodeUser(t, rec); me.ID != a.ID || me.Email != a.Email || me.Role != "AUTHENTICATED" {
				t.Errorf("GET %s = %s %s %s, want the caller", path, me.ID, me.Email, me.Role)
			}
		}
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me", "", nil))
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me", "nope", nil))
	})

	t.Run("PATCH profile fields", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		rec := h.do(http.MethodPatch, "/users/me", a.Token, obj{
			"nickname": "ada_lovelace", "first_name": "Ada", "last_name": "Lovelace", "bio": "Analyst",
			"preferred_language": "en", "profile_picture_url": "https://example.com/ada.png",
			"linkedin_profile_url": "https://www.linkedin.com/in/ada", "github_profile_url": "https://github.com/ada",
		})
		wantStatus(t, rec, http.StatusOK)
		var got map[string]any
		decodeBody(t, rec, &got)
		for k, want := range map[string]any{
			"id": a.ID, "nickname": "ada_lovelace", "first_name": "Ada", "last_name": "Lovelace", "bio": "Analyst",
			"preferred_language": "en", "profile_picture_url": "https://example.com/ada.png",
			"linkedin_profile_url": "https://www.linkedin.com/in/ada", "github_profile_url": "https://github.com/ada",
			"role": "AUTHENTICATED",
		} {
			if got[k] != want {
				t.Errorf("%s = %#v, want %#v", k, got[k], want)
			}
		}
		// A partial update keeps the rest; null clears a field.
		rec = h.do(http.MethodPatch, "/users/me/", a.Token, obj{"bio": nil, "first_name": "Augusta"})
		wantStatus(t, rec, http.StatusOK)
		if me := decodeUser(t, rec); me.Bio != nil || me.FirstName == nil || *me.FirstName != "Augusta" ||
			me.LastName == nil || *me.LastName != "Lovelace" {
			t.Errorf("after the partial update: %s", rec.Body)
		}
		if u := h.getUser(a.ID); u.FirstName == nil || *u.FirstName != "Augusta" {
			t.Errorf("the change was not saved: %+v", u)
		}
	})

	t.Run("PATCH bad fields", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		for _, tc := range []struct {
			name string
			body any
			loc  []any
		}{
			{"empty", obj{}, []any{"body"}},
			{"bio too long", obj{"bio": strings.Repeat("b", 501)}, []any{"body", "bio"}},
			{"first name too long", obj{"first_name": strings.Repeat("f", 101)}, []any{"body", "first_name"}},
			{"GitHub URL elsewhere", obj{"github_profile_url": "https://gitlab.com/ada"}, []any{"body", "github_profile_url"}},
			{"picture not an image", obj{"profile_picture_url": "https://example.com/ada.exe"}, []any{"body", "profile_picture_url"}},
			{"bad nickname", obj{"nickname": "a b"}, []any{"body", "nickname"}},
			{"wrong type", obj{"first_name": 5}, []any{"body", "first_name"}},
			{"email is not a profile field", obj{"email": "new@example.com"}, []any{"body", "email"}},
			{"password is not a profile field", obj{"password": newPassword}, []any{"body", "password"}},
			{"unknown field", obj{"bio": "x", "is_admin": true}, []any{"body", "is_admin"}},
			{"not an object", jsonBody(`"bio"`), []any{"body"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, tc.body), tc.loc...)
			})
		}
		if u := h.getUser(a.ID); u.Bio != nil || u.FirstName != nil {
			t.Errorf("a refused PATCH changed the profile: %+v", u)
		}
	})

	t.Run("PATCH a nickname in use", func(t *testing.T) {
		a, b := h.user(domain.RoleAuthenticated), h.user(domain.RoleAuthenticated)
		wantStatus(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"nickname": "taken_nick"}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPatch, "/users/me", b.Token, obj{"nickname": "taken_nick"}), http.StatusBadRequest, "Nickname already exists")
	})

	t.Run("PATCH without a token", func(t *testing.T) {
		wantUnauthorized(t, h.do(http.MethodPatch, "/users/me", "", obj{"bio": "x"}))
	})
}

// TestSelfServiceCannotEscalatePrivileges: mass assignment through the
// self-service profile endpoint.
func TestSelfServiceCannotEscalatePrivileges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAnonymous) // demoted, unverified-looking: the most to gain
	before := h.getUser(a.ID)
	for _, body := range []obj{
		{"role": "ADMIN"},
		{"role": "MANAGER", "bio": "innocent"},
		{"role": nil},
		{"is_professional": true},
		{"is_professional": false},
		{"email_verified": true},
		{"is_locked": false},
		{"is_locked": true, "first_name": "Eve"},
		{"role": "ADMIN", "is_professional": true, "email_verified": true, "is_locked": false},
	} {
		wantForbidden(t, h.do(http.MethodPatch, "/users/me", a.Token, body))
	}
	after := h.getUser(a.ID)
	if after.Role != before.Role || after.IsProfessional || after.IsLocked || after.Bio != nil || after.FirstName != nil ||
		after.EmailVerified != before.EmailVerified {
		t.Errorf("refused PATCHes changed the user: %+v -> %+v", before, after)
	}
	// A field that differs only in case is not the field, and is refused too.
	wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"Role": "ADMIN"}), "body", "Role")
	// The token still has its rights, no more.
	wantForbidden(t, h.do(http.MethodGet, "/users/", a.Token, nil))
	wantForbidden(t, h.do(http.MethodGet, "/audit-log", a.Token, nil))
	h.wantTokenAlive(a.Token)
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	change := func(token, current, next string) *httptest.ResponseRecorder {
		return h.do(http.MethodPut, "/users/me/password", token, obj{"current_password": current, "new_password": next})
	}

	t.Run("changes it", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		rec := change(a.Token, a.Password, newPassword)
		wantStatus(t, rec, http.StatusNoContent)
		if rec.Body.Len() != 0 {
			t.Errorf("204 with a body: %s", rec.Body)
		}
		wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
			http.StatusUnauthorized, "Incorrect email or password.")
		h.session(a.Email, newPassword)
		wantStatus(t, h.do(http.MethodPut, "/users/me/password/", a.Token, obj{"current_password": newPassword, "new_password": a.Password}), http.StatusNoContent)
	})

	t.Run("wrong current password", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		rec := change(a.Token, wrongPassword, newPassword)
		wantStatus(t, rec, http.StatusBadRequest)
		var body struct {
			Detail string `json:"detail"`
		}
		decodeBody(t, rec, &body)
		if body.Detail == "" {
			t.Errorf("400 without a detail: %s", rec.Body)
		}
		h.session(a.Email, a.Password) // unchanged
		h.wantTokenAlive(a.Token)
	})

	t.Run("weak new password", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		for _, weak := range []string{"short", "password", a.Email, strings.Repeat("x", 129)} {
			wantValidation(t, change(a.Token, a.Password, weak), "body", "new_password")
		}
		h.session(a.Email, a.Password)
	})

	t.Run("malformed", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		wantValidation(t, h.do(http.MethodPut, "/users/me/password", a.Token, obj{"new_password": newPassword}), "body", "current_password")
		wantValidation(t, h.do(http.MethodPut, "/users/me/password", a.Token, obj{"current_password": a.Password}), "body", "new_password")
		wantValidation(t, h.do(http.MethodPut, "/users/me/password", a.Token, obj{"current_password": a.Password, "new_password": newPassword, "user_id": h.admin.ID}), "body", "user_id")
		wantValidation(t, h.do(http.MethodPut, "/users/me/password", a.Token, nil), "body")
		h.session(a.Email, a.Password)
	})

	t.Run("no token", func(t *testing.T) {
		wantUnauthorized(t, change("", testPassword, newPassword))
	})
}

// TestPasswordChangeEndsOtherSessions: after a password change, whoever
// else held a session (the reason the owner changes it) is out; the owner
// stays in.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("owner")
	mine := h.session(a.Email, a.Password)
	thief := h.session(a.Email, a.Password)
	other := h.session(a.Email, a.Password)

	wantStatus(t, h.do(http.MethodPut, "/users/me/password", mine.AccessToken,
		obj{"current_password": a.Password, "new_password": newPassword}), http.StatusNoContent)

	for name, s := range map[string]tokenPair{"thief": thief, "other": other} {
		h.wantTokenDead(s.AccessToken)
		if rec := h.refresh(s.RefreshToken); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s's refresh after the change: %d, want 401", name, rec.Code)
		}
	}
	h.wantTokenAlive(mine.AccessToken)
	next := decodeTokens(t, h.refresh(mine.RefreshToken))
	h.wantTokenAlive(next.AccessToken)
}

// The caller's own session stays valid at every step of their password
// change (section 4: "the caller's stays"): a request of theirs arriving
// before each of its writes (the admission, then the change that ends the
// other sessions with it) is answered 200.
func TestPasswordChangeKeepsCallersSessionThroughout(t *testing.T) {
	t.Parallel()
	h, sessions := newHarnessHooked(t)
	a := h.user(domain.RoleAuthenticated)
	var during []*httptest.ResponseRecorder
	hook := func() {
		during = append(during, serve(h.srv, newRequest(t, http.MethodGet, "/users/me", a.Token, nil)))
	}
	sessions.beforeUpdate.Store(&hook)
	wantStatus(t, h.do(http.MethodPut, "/users/me/password", a.Token,
		obj{"current_password": a.Password, "new_password": newPassword}), http.StatusNoContent)
	sessions.beforeUpdate.Store(nil)
	if len(during) != 2 {
		t.Fatalf("the hook ran %d times, want 2: the admission and the change", len(during))
	}
	for i, rec := range during {
		if rec.Code != http.StatusOK {
			t.Errorf("GET /users/me with the caller's token during their password change (step %d): %d %s, want 200",
				i, rec.Code, rec.Body)
		}
	}
	h.wantTokenAlive(a.Token)
}

func TestDeleteMe(t *testing.T) {
	t.Parallel()

	t.Run("deletes the account", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		s := h.session(a.Email, a.Password)
		rec := h.do(http.MethodDelete, "/users/me", a.Token, obj{"password": a.Password})
		wantStatus(t, rec, http.StatusNoContent)
		if rec.Body.Len() != 0 {
			t.Errorf("204 with a body: %s", rec.Body)
		}
		h.wantUserMissing(a.ID)
		h.wantTokenDead(a.Token)
		wantInvalidRefresh(t, h.refresh(s.RefreshToken))
		wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
			http.StatusUnauthorized, "Incorrect email or password.")
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		rec := h.do(http.MethodDelete, "/users/me/", a.Token, obj{"password": wrongPassword})
		wantStatus(t, rec, http.StatusBadRequest)
		h.getUser(a.ID)
		h.wantTokenAlive(a.Token)
	})

	t.Run("the last admin", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		wantDetail(t, h.do(http.MethodDelete, "/users/me", h.admin.Token, obj{"password": h.admin.Password}),
			http.StatusConflict, "The last admin cannot be deleted or demoted")
		h.getUser(h.admin.ID)
		// With a second ADMIN, the first may go.
		second := h.user(domain.RoleAdmin)
		wantStatus(t, h.do(http.MethodDelete, "/users/me", h.admin.Token, obj{"password": h.admin.Password}), http.StatusNoContent)
		wantDetail(t, h.do(http.MethodDelete, "/users/me", second.Token, obj{"password": second.Password}),
			http.StatusConflict, "The last admin cannot be deleted or demoted")
	})

	t.Run("malformed or no token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		wantValidation(t, h.do(http.MethodDelete, "/users/me", a.Token, obj{}), "body", "password")
		wantValidation(t, h.do(http.MethodDelete, "/users/me", a.Token, nil), "body")
		wantValidation(t, h.do(http.MethodDelete, "/users/me", a.Token, obj{"password": a.Password, "id": h.admin.ID}), "body", "id")
		wantUnauthorized(t, h.do(http.MethodDelete, "/users/me", "", obj{"password": a.Password}))
		h.getUser(a.ID)
	})
}

// concurrently serves the requests at once and returns the answers.
func concurrently(h *harness, reqs []*http.Request) []*httptest.ResponseRecorder {
	recs := make([]*httptest.ResponseRecorder, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Go(func() {
			<-start
			recs[i] = serve(h.srv, reqs[i])
		})
	}
	close(start)
	wg.Wait()
	return recs
}

// TestConcurrentResetConfirmUsesTokenOnce: a reset link raced from two
// places sets one password, not whichever lands last.
func TestConcurrentResetConfirmUsesTokenOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("race")
	tok := h.requestReset(a.Email)
	const n = 8
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = newRequest(t, http.MethodPost, "/password-reset/confirm", "", obj{"token": tok, "new_password": fmt.Sprintf("Racing-Passw0rd-%d", i)})
	}
	winner := -1
	for i, rec := range concurrently(h, reqs) {
		if rec.Code == http.StatusOK {
			if winner >= 0 {
				t.Errorf("two confirmations with one token succeeded: %d and %d", winner, i)
			}
			winner = i
			continue
		}
		wantDetail(t, rec, http.StatusBadRequest, "Invalid or expired reset token")
	}
	if winner < 0 {
		t.Fatal("no confirmation succeeded")
	}
	h.session(a.Email, fmt.Sprintf("Racing-Passw0rd-%d", winner))
}

// TestConcurrentPasswordChangesOneWins: one proof of the current password
// changes it once.
func TestConcurrentPasswordChangesOneWins(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)
	const n = maxAttempts // every proof is checked at once; more would wait and count as failures
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = newRequest(t, http.MethodPut, "/users/me/password", a.Token,
			obj{"current_password": a.Password, "new_password": fmt.Sprintf("Racing-Passw0rd-%d", i)})
	}
	winner := -1
	for i, rec := range concurrently(h, reqs) {
		switch rec.Code {
		case http.StatusNoContent:
			if winner >= 0 {
				t.Errorf("two changes with one current password succeeded: %d and %d", winner, i)
			}
			winner = i
		default:
			wantStatus(t, rec, http.StatusBadRequest)
		}
	}
	if winner < 0 {
		t.Fatal("no change succeeded")
	}
	h.session(a.Email, fmt.Sprintf("Racing-Passw0rd-%d", winner))
}
