package httpapi_test

import (
	"context"
	"encoding/base32"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/domain"
)

// The console's handlers (console*.go), driven as a browser would: a
// cookie jar, forms, the Origin header a browser sends. The browser tests
// in test/ walk the same pages in Chromium.

// consoleOrigin is the origin httptest requests have (Host example.com).
const consoleOrigin = "http://example.com"

// consoleBrowser is one browser: its cookies, kept as a browser keeps them.
type consoleBrowser struct {
	tb  testing.TB
	h   *harness
	jar map[string]*http.Cookie
}

func (h *harness) browser() *consoleBrowser {
	return &consoleBrowser{tb: h.tb, h: h, jar: map[string]*http.Cookie{}}
}

// send serves req with the jar's cookies and keeps the cookies it sets.
func (b *consoleBrowser) send(req *http.Request) *httptest.ResponseRecorder {
	b.tb.Helper()
	for _, c := range b.jar {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := serve(b.h.srv, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.jar, c.Name)
			continue
		}
		b.jar[c.Name] = c
	}
	return rec
}

func (b *consoleBrowser) get(path string) *httptest.ResponseRecorder {
	b.tb.Helper()
	return b.send(httptest.NewRequest(http.MethodGet, path, nil))
}

// post posts a form from origin ("" sends no Origin header).
func (b *consoleBrowser) post(path, origin string, f url.Values) *httptest.ResponseRecorder {
	b.tb.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.send(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the forms of the page at path.
func (b *consoleBrowser) csrf(path string) string {
	b.tb.Helper()
	rec := b.get(path)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.tb.Fatalf("GET %s: no CSRF token in the page (status %d):\n%s", path, rec.Code, rec.Body)
	}
	return m[1]
}

// submit posts a form of the page at page (with its token) to action.
func (b *consoleBrowser) submit(page, action string, f url.Values) *httptest.ResponseRecorder {
	b.tb.Helper()
	if f == nil {
		f = url.Values{}
	}
	f.Set("csrf", b.csrf(page))
	return b.post(action, consoleOrigin, f)
}

// signIn signs in through the form, as a person would.
func (b *consoleBrowser) signIn(email, password, next string) *httptest.ResponseRecorder {
	b.tb.Helper()
	return b.submit(next, "/account/sign-in", url.Values{"email": {email}, "password": {password}, "next": {next}})
}

// mustSignIn signs in and expects to be sent on to next.
func (b *consoleBrowser) mustSignIn(email, password, next string) {
	b.tb.Helper()
	rec := b.signIn(email, password, next)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != next {
		b.tb.Fatalf("signing in %s: %d, Location %q:\n%s", email, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

var tags = regexp.MustCompile(`<[^>]*>`)

// pageSays reports whether the page's markup, or its text as a person
// reads it (tags dropped, entities decoded, spaces collapsed), holds s.
func pageSays(rec *httptest.ResponseRecorder, s string) bool {
	body := rec.Body.String()
	if strings.Contains(body, s) {
		return true
	}
	text := strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(body, " "))), " ")
	text = strings.ReplaceAll(strings.ReplaceAll(text, " .", "."), " ,", ",")
	return strings.Contains(text, s)
}

func wantConsolePage(tb testing.TB, rec *httptest.ResponseRecorder, status int, contains ...string) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status %d, want %d:\n%s", rec.Code, status, rec.Body)
	}
	for _, s := range contains {
		if !pageSays(rec, s) {
			tb.Errorf("the page does not say %q:\n%s", s, rec.Body)
		}
	}
}

func wantSignInForm(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	wantConsolePage(tb, rec, http.StatusOK, `action="/account/sign-in"`, `autocomplete="current-password"`)
}

func TestConsoleSignedOutShowsTheSignInForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, path := range []string{"/admin", "/admin/users", "/admin/users/" + h.admin.ID, "/admin/audit", "/account", "/account/two-factor"} {
		b := h.browser()
		rec := b.get(path)
		wantSignInForm(t, rec)
		if !strings.Contains(rec.Body.String(), `name="next" value="`+path+`"`) {
			t.Errorf("GET %s: the form does not come back to %s:\n%s", path, path, rec.Body)
		}
		c := b.jar["usersvc_signin"]
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
			t.Errorf("GET %s: sign-in cookie %+v, want HttpOnly, SameSite=Strict, Path=/, not Secure in development", path, c)
		}
	}
}

func TestConsolePagesAreNeverCachedAndAllowNoInlineCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/admin")
	target := h.verified("target")
	pages := []string{
		"/admin", "/admin/users", "/admin/users?q=target&role=ANONYMOUS&email_verified=true&sort=email",
		"/admin/users/" + target.ID, "/admin/users/" + target.ID + "/delete", "/admin/invite",
		"/admin/audit", "/admin/audit?event=login_succeeded",
		"/account", "/account/password", "/account/sessions", "/account/two-factor", "/account/email",
		"/account/delete",
	}
	inline := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range pages {
		rec := b.get(path)
		wantConsolePage(t, rec, http.StatusOK)
		hdr := rec.Header()
		if got := hdr.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, got)
		}
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: CSP %q allows more than the service's own styles", path, csp)
		}
		if m := inline.FindString(rec.Body.String()); m != "" {
			t.Errorf("GET %s: inline code %q, which the CSP refuses", path, m)
		}
		if !strings.Contains(rec.Body.String(), `<main id="main"`) || !strings.Contains(rec.Body.String(), `<html lang="en">`) {
			t.Errorf("GET %s: no main landmark or language", path)
		}
	}
}

func TestConsoleStylesheet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.browser().get("/account")
	m := regexp.MustCompile(`href="(/assets/console-[0-9a-f]+\.css)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no stylesheet in the page:\n%s", rec.Body)
	}
	css := h.do(http.MethodGet, m[1], "", nil)
	wantStatus(t, css, http.StatusOK)
	if ct := css.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := css.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control %q: a stylesheet named by its content may be kept", cc)
	}
	wantStatus(t, h.do(http.MethodGet, "/assets/console-000000000000.css", "", nil), http.StatusNotFound)
	// The link pages of emails share it.
	reset := h.do(http.MethodGet, "/password-reset?token=abc", "", nil)
	if !strings.Contains(reset.Body.String(), m[1]) || strings.Contains(reset.Header().Get("Content-Security-Policy"), "unsafe-inline") {
		t.Errorf("the reset page does not share the console's stylesheet and CSP:\n%s\n%s", reset.Header(), reset.Body)
	}
}

func TestConsoleSignInCookies(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run("secure="+strconv.FormatBool(secure), func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, httpapi.Options{SecureCookies: secure})
			b := h.browser()
			rec := b.signIn(h.admin.Email, h.admin.Password, "/admin/users?q=root")
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/users?q=root" {
				t.Fatalf("sign-in: %d to %q:\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
			prefix := ""
			if secure {
				prefix = "__Host-"
			}
			for _, name := range []string{"usersvc_access", "usersvc_refresh"} {
				c := b.jar[prefix+name]
				if c == nil {
					t.Fatalf("no cookie %s%s: %v", prefix, name, rec.Header()["Set-Cookie"])
				}
				if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != secure || c.Domain != "" {
					t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, no Domain, Secure=%v", c, secure)
				}
			}
			// The access cookie is an access token of the API, in a session.
			h.wantTokenAlive(b.jar[prefix+"usersvc_access"].Value)
			wantConsolePage(t, b.get("/admin/users?q=root"), http.StatusOK, h.admin.Email)
		})
	}
}

func TestConsoleSignInFollowsTheLoginRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("person")
	b := h.browser()

	rec := b.signIn(a.Email, wrongPassword, "/account")
	wantConsolePage(t, rec, http.StatusUnauthorized, "Incorrect email or password.")
	if b.jar["usersvc_access"] != nil {
		t.Error("a wrong password set a session cookie")
	}
	rec = b.signIn("nobody@example.com", wrongPassword, "/account")
	wantConsolePage(t, rec, http.StatusUnauthorized, "Incorrect email or password.")

	unverified := h.register("unverified")
	wantConsolePage(t, b.signIn(unverified.Email, unverified.Password, "/account"), http.StatusUnauthorized, "Email not verified.")

	for range maxAttempts - 1 {
		b.signIn(a.Email, wrongPassword, "/account")
	}
	wantConsolePage(t, b.signIn(a.Email, a.Password, "/account"), http.StatusBadRequest, "Account locked due to too many failed login attempts.")

	// next never leaves the console.
	other := h.verified("other")
	for next, want := range map[string]string{
		"https://evil.example/": "/account", "//evil.example/admin": "/account", "/users/me": "/account",
		"/admin/users?q=a": "/admin/users?q=a", "/account/sessions": "/account/sessions", `/\evil.example`: "/account",
		"/account/../users/me": "/account", "/administrator": "/account",
	} {
		b := h.browser()
		rec := b.submit("/account", "/account/sign-in", url.Values{"email": {other.Email}, "password": {other.Password}, "next": {next}})
		if got := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || got != want {
			t.Errorf("next=%q: %d to %q, want %q", next, rec.Code, got, want)
		}
	}
}

func TestConsoleSignInRateLimited(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true})
	a := h.verified("limited")
	b := h.browser()
	token := b.csrf("/account")
	var rec *httptest.ResponseRecorder
	for i := range 40 {
		rec = b.post("/account/sign-in", consoleOrigin, url.Values{"csrf": {token}, "email": {a.Email}, "password": {wrongPassword + strconv.Itoa(i)}})
		if rec.Code == http.StatusTooManyRequests {
			break
		}
	}
	wantConsolePage(t, rec, http.StatusTooManyRequests, "Too many attempts")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestConsoleSignInWithSecondFactor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("twofactor")
	b := h.browser()

	rec := b.signIn(a.Email, a.Password, "/account/sessions")
	wantConsolePage(t, rec, http.StatusOK, "Enter your code", `action="/account/sign-in/code"`)
	if b.jar["usersvc_access"] != nil {
		t.Fatal("the password alone set a session cookie")
	}
	mfaToken := regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if mfaToken == nil {
		t.Fatalf("no mfa_token in the code form:\n%s", rec.Body)
	}
	csrf := csrfField.FindStringSubmatch(rec.Body.String())[1]
	code := func(c string) *httptest.ResponseRecorder {
		return b.post("/account/sign-in/code", consoleOrigin, url.Values{
			"csrf": {csrf}, "mfa_token": {mfaToken[1]}, "code": {c}, "next": {"/account/sessions"},
		})
	}
	wantConsolePage(t, code("000000"), http.StatusUnauthorized, "Invalid code.", `action="/account/sign-in/code"`)
	rec = code(h.totpCode(a.Key))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/account/sessions" {
		t.Fatalf("the right code: %d to %q:\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if got := amrOf(t, b.jar["usersvc_access"].Value); len(got) != 2 || got[1] != "otp" {
		t.Errorf("amr %v, want pwd and otp", got)
	}
	// Signed in, the browser has no sign-in token left: the old form is refused.
	wantConsolePage(t, code(h.totpCode(a.Key)), http.StatusForbidden, "Request refused")
	// And the mfa_token died with its use.
	b3 := h.browser()
	rec = b3.post("/account/sign-in/code", consoleOrigin, url.Values{
		"csrf": {b3.csrf("/account")}, "mfa_token": {mfaToken[1]}, "code": {h.totpCode(a.Key)},
	})
	wantConsolePage(t, rec, http.StatusUnauthorized, "enter your password again", `action="/account/sign-in"`)

	// A recovery code signs in too.
	b2 := h.browser()
	rec = b2.signIn(a.Email, a.Password, "/account")
	mfaToken = regexp.MustCompile(`name="mfa_token" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	rec = b2.post("/account/sign-in/code", consoleOrigin, url.Values{
		"csrf": {csrfField.FindStringSubmatch(rec.Body.String())[1]}, "mfa_token": {mfaToken[1]}, "code": {a.Recovery[0]},
	})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("a recovery code: %d:\n%s", rec.Code, rec.Body)
	}
}

func TestConsoleRefusesCrossSiteAndTokenlessForms(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("victim")
	b := h.browser()
	b.mustSignIn(a.Email, a.Password, "/account")
	token := b.csrf("/account")
	other := h.browser()
	other.mustSignIn(h.admin.Email, h.admin.Password, "/account")
	otherToken := other.csrf("/account")

	changed := func() bool {
		u, err := h.svc.Me(context.Background(), domain.Actor{ID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		return u.State().Profile.FirstName == "Mallory"
	}
	cases := []struct {
		name    string
		origin  string
		headers map[string]string
		token   string
	}{
		{"another origin", "https://evil.example", nil, token},
		{"a null origin", "null", nil, token},
		{"another port", "http://example.com:8080", nil, token},
		{"no token", consoleOrigin, nil, ""},
		{"a wrong token", consoleOrigin, nil, "AAAA" + token[4:]},
		{"another session's token", consoleOrigin, nil, otherToken},
		{"a cross-site fetch without Origin", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, token},
		{"a foreign Referer without Origin", "", map[string]string{"Referer": "https://evil.example/page"}, token},
	}
	for _, c := range cases {
		f := url.Values{"first_name": {"Mallory"}}
		if c.token != "" {
			f.Set("csrf", c.token)
		}
		req := httptest.NewRequest(http.MethodPost, "/account/profile", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		rec := b.send(req)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Request refused") {
			t.Errorf("%s: %d, want 403 Request refused:\n%s", c.name, rec.Code, rec.Body)
		}
		if changed() {
			t.Fatalf("%s: the profile changed", c.name)
		}
	}
	// The sign-in form is held the same way before there is a session.
	fresh := h.browser()
	signInToken := fresh.csrf("/account")
	f := url.Values{"csrf": {signInToken}, "email": {a.Email}, "password": {a.Password}}
	wantConsolePage(t, fresh.post("/account/sign-in", "https://evil.example", f), http.StatusForbidden, "Request refused")
	wantConsolePage(t, h.browser().post("/account/sign-in", consoleOrigin, f), http.StatusForbidden, "Request refused") // no cookie
	f.Set("csrf", "forged")
	wantConsolePage(t, fresh.post("/account/sign-in", consoleOrigin, f), http.StatusForbidden, "Request refused")

	// The same form, from the console, with the token, does it.
	rec := b.post("/account/profile", consoleOrigin, url.Values{"csrf": {token}, "first_name": {"Mallory"}})
	if rec.Code != http.StatusSeeOther || !changed() {
		t.Fatalf("the console's own form: %d:\n%s", rec.Code, rec.Body)
	}
	// Without Origin, a same-origin Sec-Fetch-Site (or nothing: not a browser) passes on the token.
	req := httptest.NewRequest(http.MethodPost, "/account/profile", strings.NewReader(url.Values{"csrf": {token}, "first_name": {"Ada"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if rec := b.send(req); rec.Code != http.StatusSeeOther {
		t.Errorf("Sec-Fetch-Site same-origin: %d", rec.Code)
	}
}

func TestConsoleSessionEndsAsTokensEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	t.Run("staff lock", func(t *testing.T) {
		a := h.verified("locked")
		b := h.browser()
		b.mustSignIn(a.Email, a.Password, "/account")
		wantConsolePage(t, b.get("/account"), http.StatusOK, a.Email)
		wantStatus(t, h.do(http.MethodPost, "/users/"+a.ID+"/lock", h.admin.Token, nil), http.StatusOK)
		wantSignInForm(t, b.get("/account"))
		if b.jar["usersvc_access"] != nil || b.jar["usersvc_refresh"] != nil {
			t.Error("the ended session's cookies were kept")
		}
	})
	t.Run("demotion", func(t *testing.T) {
		m := h.user(domain.RoleManager)
		b := h.browser()
		b.mustSignIn(m.Email, m.Password, "/admin")
		wantConsolePage(t, b.get("/admin"), http.StatusOK, "Dashboard")
		h.setRole(m.ID, domain.RoleAuthenticated)
		wantSignInForm(t, b.get("/admin"))
	})
	t.Run("password changed elsewhere", func(t *testing.T) {
		a := h.verified("changer")
		b := h.browser()
		b.mustSignIn(a.Email, a.Password, "/account")
		token := h.login(a.Email, a.Password)
		wantStatus(t, h.do(http.MethodPut, "/users/me/password", token, obj{"current_password": a.Password, "new_password": "An0ther-good-passphrase"}), http.StatusNoContent)
		wantSignInForm(t, b.get("/account"))
	})
	t.Run("sign out", func(t *testing.T) {
		a := h.verified("leaver")
		b := h.browser()
		b.mustSignIn(a.Email, a.Password, "/account")
		access := b.jar["usersvc_access"].Value
		rec := b.submit("/account", "/account/sign-out", nil)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("sign out: %d:\n%s", rec.Code, rec.Body)
		}
		h.wantTokenDead(access)
		wantSignInForm(t, b.get("/account"))
	})
}

func TestConsoleRefreshesTheSessionOnTheServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("idle")
	b := h.browser()
	b.mustSignIn(a.Email, a.Password, "/account")
	oldAccess, oldRefresh := b.jar["usersvc_access"].Value, b.jar["usersvc_refresh"].Value
	h.clock.Advance(20 * time.Minute) // the access token has expired

	// Tabs loading at once all present the same spent pair: one rotation
	// serves them all, and none of them looks like a replay.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "/account", nil)
			req.AddCookie(&http.Cookie{Name: "usersvc_access", Value: oldAccess})
			req.AddCookie(&http.Cookie{Name: "usersvc_refresh", Value: oldRefresh})
			codes[i] = serve(h.srv, req).Code
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("tab %d: %d", i, c)
		}
	}
	rec := b.get("/account")
	wantConsolePage(t, rec, http.StatusOK, a.Email)
	if b.jar["usersvc_access"].Value == oldAccess || b.jar["usersvc_refresh"].Value == oldRefresh {
		t.Fatal("the cookies were not renewed")
	}
	// The session goes on with the new pair.
	h.clock.Advance(20 * time.Minute)
	wantConsolePage(t, b.get("/account/sessions"), http.StatusOK, "this browser")
}

func TestConsoleStaffPagesFollowTheAPIsPermissions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	plain := h.verified("plain")
	manager := h.user(domain.RoleManager)
	target := h.verified("managed")

	b := h.browser()
	b.mustSignIn(plain.Email, plain.Password, "/admin")
	wantConsolePage(t, b.get("/admin"), http.StatusForbidden, "Not for your account")
	wantConsolePage(t, b.get("/admin/users/"+target.ID), http.StatusForbidden, "Not for your account")
	// A form posted anyway is the use case's to refuse.
	wantConsolePage(t, b.submit("/account", "/admin/users/"+target.ID+"/lock", nil), http.StatusForbidden, "Operation not permitted.")

	m := h.browser()
	m.mustSignIn(manager.Email, manager.Password, "/admin")
	dash := m.get("/admin")
	wantConsolePage(t, dash, http.StatusOK, "Dashboard", `href="/admin/users"`)
	if strings.Contains(dash.Body.String(), `href="/admin/audit"`) {
		t.Error("a MANAGER's navigation offers the audit log, which the API refuses them")
	}
	wantConsolePage(t, m.get("/admin/audit"), http.StatusForbidden, "ADMIN accounts only")
	// On an ADMIN's page a MANAGER sees no control, and a form posted anyway is refused.
	adminPage := m.get("/admin/users/" + h.admin.ID)
	wantConsolePage(t, adminPage, http.StatusOK, "Your role cannot change this account")
	wantConsolePage(t, m.submit("/admin", "/admin/users/"+h.admin.ID+"/lock", nil), http.StatusForbidden, "Operation not permitted.")
	wantConsolePage(t, m.submit("/admin", "/admin/users/"+target.ID+"/role", url.Values{"role": {"ADMIN"}}), http.StatusForbidden, "Operation not permitted.")
	if u := h.getUser(h.admin.ID); u.IsLocked {
		t.Fatal("a MANAGER locked an ADMIN")
	}
	// On an AUTHENTICATED user's, what the API lets a MANAGER do.
	rec := m.submit("/admin/users/"+target.ID, "/admin/users/"+target.ID+"/lock", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("a MANAGER locking a user: %d:\n%s", rec.Code, rec.Body)
	}
	wantConsolePage(t, m.get(rec.Header().Get("Location")), http.StatusOK, "Account locked: its sessions have ended.")
	if u := h.getUser(target.ID); !u.IsLocked {
		t.Error("the user is not locked")
	}
}

func TestConsoleAdminActions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/admin")
	u := h.verified("subject")
	h.login(u.Email, u.Password) // a session to end
	page := "/admin/users/" + u.ID
	act := func(action string, f url.Values) *httptest.ResponseRecorder {
		t.Helper()
		rec := b.submit(page, page+"/"+action, f)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d:\n%s", action, rec.Code, rec.Body)
		}
		return b.get(rec.Header().Get("Location"))
	}
	wantConsolePage(t, act("profile", url.Values{"email": {u.Email}, "nickname": {"renamed_one"}, "first_name": {"Ada"}, "last_name": {"Lovelace"}, "bio": {""}}),
		http.StatusOK, "Profile saved.", "renamed_one", "Ada Lovelace")
	if !h.getUser(u.ID).EmailVerified {
		t.Error("the email left as it was unverified the account")
	}
	// The email, as PUT /users/{id} changes it: a bad one refused on the
	// form, a new one unverified, with a link to it and a notice to the old.
	wantConsolePage(t, b.submit(page, page+"/profile", url.Values{"email": {"not-an-email"}, "nickname": {"renamed_one"}}),
		http.StatusUnprocessableEntity, "Email: value is not a valid email address")
	wantConsolePage(t, act("profile", url.Values{"email": {"renamed@example.com"}, "nickname": {"renamed_one"}}),
		http.StatusOK, "Profile saved.", "renamed@example.com", "not verified")
	if got := h.getUser(u.ID); got.Email != "renamed@example.com" || got.EmailVerified {
		t.Errorf("after the change: %s, verified %v", got.Email, got.EmailVerified)
	}
	if len(h.mail.sent("renamed@example.com", domain.MessageVerifyEmail)) != 1 || len(h.mail.sent(u.Email, domain.MessageEmailChanged)) != 1 {
		t.Error("no verification link to the new address, or no notice to the old one")
	}
	u.Email = "renamed@example.com"
	id, token := h.verificationToken(u.Email) // its owner follows the link
	if err := h.svc.VerifyEmail(context.Background(), id, token); err != nil {
		t.Fatalf("verify the new address: %v", err)
	}
	wantConsolePage(t, act("role", url.Values{"role": {"MANAGER"}}), http.StatusOK, "Role changed.")
	if got := h.getUser(u.ID).Role; got != "MANAGER" {
		t.Errorf("role %s", got)
	}
	act("role", url.Values{"role": {"AUTHENTICATED"}})
	h.login(u.Email, u.Password) // the demotion ended the sessions; a new one
	wantConsolePage(t, act("upgrade", nil), http.StatusOK, "The account is now professional.")
	wantConsolePage(t, act("end-sessions", nil), http.StatusOK, "Every session of this user has ended.", "No active session.")
	wantConsolePage(t, act("lock", nil), http.StatusOK, "Account locked")
	wantConsolePage(t, act("unlock", nil), http.StatusOK, "Account unlocked.")

	mfa := h.mfaUser("withmfa")
	rec := b.submit("/admin/users/"+mfa.ID, "/admin/users/"+mfa.ID+"/mfa-reset", nil)
	wantStatus(t, rec, http.StatusSeeOther)
	if u, err := h.svc.Me(context.Background(), domain.Actor{ID: mfa.ID}); err != nil || u.MFAEnabled() {
		t.Error("the second factor is still on")
	}

	// Invite, resend, and a validation error shown on the form.
	wantConsolePage(t, b.submit("/admin/invite", "/admin/invite", url.Values{"email": {"not-an-email"}}), http.StatusUnprocessableEntity, "Email: value is not a valid email address")
	rec = b.submit("/admin/invite", "/admin/invite", url.Values{"email": {"guest@example.com"}, "first_name": {"Grace"}, "role": {"MANAGER"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("invite: %d:\n%s", rec.Code, rec.Body)
	}
	invited := b.get(rec.Header().Get("Location"))
	wantConsolePage(t, invited, http.StatusOK, "Invitation sent.", "guest@example.com", "Resend invitation")
	guestID := strings.TrimPrefix(strings.Split(rec.Header().Get("Location"), "?")[0], "/admin/users/")
	rec = b.submit("/admin/users/"+guestID, "/admin/users/"+guestID+"/invitation", nil)
	wantStatus(t, rec, http.StatusSeeOther)
	if n := len(h.mail.sent("guest@example.com", domain.MessageInvitation)); n != 2 {
		t.Errorf("%d invitation emails, want 2", n)
	}
	wantConsolePage(t, b.submit("/admin/invite", "/admin/invite", url.Values{"email": {"guest@example.com"}}), http.StatusBadRequest, "Email already exists.")

	// Delete: a page that asks, then the deletion.
	wantConsolePage(t, b.get(page+"/delete"), http.StatusOK, "Delete permanently", u.Email)
	rec = b.submit(page+"/delete", page+"/delete", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/users?done=deleted" {
		t.Fatalf("delete: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	h.wantUserMissing(u.ID)
	wantConsolePage(t, b.get(page), http.StatusNotFound, "User not found.")
	// The last ADMIN stays, as in the API.
	wantConsolePage(t, b.submit("/admin/users/"+h.admin.ID+"/delete", "/admin/users/"+h.admin.ID+"/delete", nil),
		http.StatusConflict, "The last admin cannot be deleted or demoted.")
}

func TestConsoleListsAndFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 30 {
		h.register("listed" + strconv.Itoa(i/10))
	}
	h.failLogins(h.admin.Email, 1)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/admin")

	wantConsolePage(t, b.get("/admin"), http.StatusOK, "Sign-ups per day", "Login outcomes per day", `role="img"`, "31 sign-ups in all")
	first := b.get("/admin/users?sort=email")
	wantConsolePage(t, first, http.StatusOK, "Next page")
	if n := strings.Count(first.Body.String(), `<td><a href="/admin/users/`); n != 25 {
		t.Errorf("first page: %d users, want 25", n)
	}
	next := regexp.MustCompile(`href="(/admin/users\?[^"]*cursor=[^"]+)"`).FindStringSubmatch(first.Body.String())
	if next == nil {
		t.Fatal("no link to the next page")
	}
	second := b.get(html.UnescapeString(next[1]))
	if n := strings.Count(second.Body.String(), `<td><a href="/admin/users/`); n != 6 {
		t.Errorf("second page: %d users, want 6", n)
	}
	wantConsolePage(t, second, http.StatusOK, "First page")
	filtered := b.get("/admin/users?q=listed2&role=ANONYMOUS&email_verified=false&sort=-email")
	if n := strings.Count(filtered.Body.String(), `<td><a href="/admin/users/`); n != 10 {
		t.Errorf("filtered: %d users, want 10", n)
	}
	wantConsolePage(t, b.get("/admin/users?role=KING"), http.StatusUnprocessableEntity, "Role:")
	wantConsolePage(t, b.get("/admin/users?is_locked=maybe"), http.StatusUnprocessableEntity, "Locked: choose yes, no or any.")

	wantConsolePage(t, b.get("/admin/audit?event=login_failed"), http.StatusOK, "login_failed")
	audit := b.get("/admin/audit?target=" + h.admin.ID + "&since=2020-01-01T00:00")
	wantConsolePage(t, audit, http.StatusOK, "login_succeeded")
	wantConsolePage(t, b.get("/admin/audit?since=yesterday"), http.StatusUnprocessableEntity, "Since:")
	wantConsolePage(t, b.get("/admin/audit?event=nothing"), http.StatusUnprocessableEntity, "Event: Input should be a known event type")
}

func TestConsoleAccountPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("self")
	b := h.browser()
	b.mustSignIn(a.Email, a.Password, "/account")

	rec := b.submit("/account", "/account/profile", url.Values{"nickname": {"me_myself"}, "first_name": {"Ada"}, "preferred_language": {"fr"}})
	wantStatus(t, rec, http.StatusSeeOther)
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "Profile saved.", "me_myself")
	wantConsolePage(t, b.submit("/account", "/account/profile", url.Values{"nickname": {"x"}}), http.StatusUnprocessableEntity, "Nickname: String should have at least 3 characters")

	// Sessions: another one (the API's), ended from here; then all others.
	other := h.login(a.Email, a.Password)
	list := b.get("/account/sessions")
	wantConsolePage(t, list, http.StatusOK, "this browser", "End all other sessions")
	end := regexp.MustCompile(`action="(/account/sessions/[^/"]+/end)"`).FindStringSubmatch(list.Body.String())
	if end == nil {
		t.Fatalf("no End button:\n%s", list.Body)
	}
	wantStatus(t, b.submit("/account/sessions", end[1], nil), http.StatusSeeOther)
	h.wantTokenDead(other)
	third := h.login(a.Email, a.Password)
	wantStatus(t, b.submit("/account/sessions", "/account/sessions/end-others", nil), http.StatusSeeOther)
	h.wantTokenDead(third)
	wantConsolePage(t, b.get("/account/sessions"), http.StatusOK, "this browser")

	// Password: the form's checks, the use case's, then the change.
	wantConsolePage(t, b.submit("/account/password", "/account/password", url.Values{"current_password": {a.Password}, "new_password": {"Brand-new-passphrase-1"}, "repeat_password": {"different"}}),
		http.StatusUnprocessableEntity, "The two new passwords differ.")
	wantConsolePage(t, b.submit("/account/password", "/account/password", url.Values{"current_password": {wrongPassword}, "new_password": {"Brand-new-passphrase-1"}, "repeat_password": {"Brand-new-passphrase-1"}}),
		http.StatusBadRequest, "Incorrect password.")
	elsewhere := h.login(a.Email, a.Password)
	rec = b.submit("/account/password", "/account/password", url.Values{"current_password": {a.Password}, "new_password": {"Brand-new-passphrase-1"}, "repeat_password": {"Brand-new-passphrase-1"}})
	wantStatus(t, rec, http.StatusSeeOther)
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "Password changed.")
	h.wantTokenDead(elsewhere)
	a.Password = "Brand-new-passphrase-1"

	// Email change: the request, as POST /users/me/email.
	wantConsolePage(t, b.submit("/account/email", "/account/email", url.Values{"new_email": {"new@example.com"}, "password": {wrongPassword}}), http.StatusBadRequest, "Incorrect password.")
	rec = b.submit("/account/email", "/account/email", url.Values{"new_email": {"new@example.com"}, "password": {a.Password}})
	wantStatus(t, rec, http.StatusSeeOther)
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "a link to confirm the change has been sent")
	if len(h.mail.sent("new@example.com", domain.MessageEmailChange)) != 1 {
		t.Error("no link sent to the new address")
	}
}

var secretOnPage = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// decodeSecret reads a base32 secret as an authenticator app does.
func decodeSecret(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

func TestConsoleSecondFactorPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("enrolling")
	b := h.browser()
	b.mustSignIn(a.Email, a.Password, "/account/two-factor")
	other := h.login(a.Email, a.Password)

	wantConsolePage(t, b.get("/account/two-factor"), http.StatusOK, "The second factor is off.", "Set up")
	wantConsolePage(t, b.submit("/account/two-factor", "/account/two-factor/enrol", url.Values{"password": {wrongPassword}}), http.StatusBadRequest, "Incorrect password.")
	rec := b.submit("/account/two-factor", "/account/two-factor/enrol", url.Values{"password": {a.Password}})
	wantConsolePage(t, rec, http.StatusOK, "Scan this code", "<svg", `aria-label="QR code for your authenticator app"`)
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the secret's page may be cached")
	}
	m := secretOnPage.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", rec.Body)
	}
	key, err := decodeSecret(m[1])
	if err != nil {
		t.Fatal(err)
	}
	wantConsolePage(t, b.submit("/account/two-factor", "/account/two-factor/confirm", url.Values{"code": {"000000"}}), http.StatusBadRequest, "Invalid code.")
	rec = b.submit("/account/two-factor", "/account/two-factor/confirm", url.Values{"code": {h.totpCode(key)}})
	wantConsolePage(t, rec, http.StatusOK, "Your recovery codes", "shown only once")
	if n := strings.Count(rec.Body.String(), "<li><code>"); n != 10 {
		t.Errorf("%d recovery codes, want 10", n)
	}
	h.wantTokenDead(other) // confirming ends the other sessions
	wantConsolePage(t, b.get("/account/two-factor"), http.StatusOK, "Make new recovery codes", "Turn off the second factor")

	rec = b.submit("/account/two-factor", "/account/two-factor/recovery-codes", url.Values{"code": {h.totpCode(key)}})
	wantConsolePage(t, rec, http.StatusOK, "Your recovery codes")
	codes := regexp.MustCompile(`<li><code>([^<]+)</code>`).FindAllStringSubmatch(rec.Body.String(), -1)
	if len(codes) != 10 {
		t.Fatalf("%d new codes", len(codes))
	}
	wantConsolePage(t, b.submit("/account/two-factor", "/account/two-factor/disable", url.Values{"password": {a.Password}, "code": {"nope"}}), http.StatusBadRequest, "Invalid code.")
	rec = b.submit("/account/two-factor", "/account/two-factor/disable", url.Values{"password": {a.Password}, "code": {codes[0][1]}})
	wantStatus(t, rec, http.StatusSeeOther)
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "The second factor is off.", "Set up")
	wantConsolePage(t, b.submit("/account/two-factor", "/account/two-factor/confirm", url.Values{"code": {h.totpCode(key)}}),
		http.StatusConflict, "Nothing is waiting for a code")
}

func TestConsoleUnexpectedErrorsAreLoggedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/admin")
	// A malformed user id is a 404 page, as in the API.
	wantConsolePage(t, b.get("/admin/users/not-a-uuid"), http.StatusNotFound, "User not found.")
	wantConsolePage(t, b.submit("/admin", "/admin/users/"+h.admin.ID+"/explode", nil), http.StatusNotFound, "There is no such action.")
	// A form that is not a form.
	req := httptest.NewRequest(http.MethodPost, "/account/profile", strings.NewReader(`{"first_name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", consoleOrigin)
	wantConsolePage(t, b.send(req), http.StatusBadRequest, "The form could not be read.")
}

// A person deletes their own account from the console as DELETE /users/me
// does: their password again (a wrong one refused), then the account, its
// sessions elsewhere and the browser's session cookies go.
func TestConsoleLeave(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("leaving")
	elsewhere := h.login(a.Email, a.Password)
	b := h.browser()
	b.mustSignIn(a.Email, a.Password, "/account")
	wantConsolePage(t, b.get("/account"), http.StatusOK, `href="/account/delete"`)
	wantConsolePage(t, b.get("/account/delete"), http.StatusOK, "Delete my account")
	wantConsolePage(t, b.submit("/account/delete", "/account/delete", url.Values{"password": {wrongPassword}}),
		http.StatusBadRequest, "Incorrect password.")
	h.getUser(a.ID)

	rec := b.submit("/account/delete", "/account/delete", url.Values{"password": {a.Password}})
	wantStatus(t, rec, http.StatusSeeOther)
	for _, name := range []string{"usersvc_access", "usersvc_refresh"} {
		if _, ok := b.jar[name]; ok {
			t.Errorf("the %s cookie outlived the account", name)
		}
	}
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "Your account has been deleted.", "Sign in")
	h.wantUserMissing(a.ID)
	h.wantTokenDead(elsewhere)
}

// The last ADMIN cannot delete their account from the console either.
func TestConsoleLeaveKeepsTheLastAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/account")
	rec := b.submit("/account/delete", "/account/delete", url.Values{"password": {h.admin.Password}})
	if rec.Code < 400 {
		t.Fatalf("the last ADMIN deleted their account: %d", rec.Code)
	}
	h.getUser(h.admin.ID)
}
