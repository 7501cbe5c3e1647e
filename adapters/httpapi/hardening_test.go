package httpapi_test

// Hardening (sections 4, 5 and 6 of PRODUCT.md): security headers, request
// ids, CORS, answers that do not reveal accounts, the lockout under
// concurrent guesses and the rate limits, through the real use cases.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
)

// The security headers of section 6, checked on every answer by the
// tests that make one (wantSecurityHeaders).

// securityHeaderValues are headers every answer carries with exactly
// these values (the CSP is checked apart: pages have their own).
var securityHeaderValues = map[string]string{
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
}

// wantSecurityHeaders checks the headers of section 6's hardening.
func wantSecurityHeaders(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	for k, want := range securityHeaderValues {
		if got := rec.Header().Get(k); got != want {
			tb.Errorf("%s = %q, want %q (status %d)", k, got, want, rec.Code)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		tb.Errorf("Content-Security-Policy = %q, want default-src 'none' and frame-ancestors 'none' (status %d)", csp, rec.Code)
	}
	if rec.Header().Get("X-Request-ID") == "" {
		tb.Errorf("no X-Request-ID (status %d)", rec.Code)
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true, CORSOrigins: []string{"https://app.example.com"}})
	a := h.user(domain.RoleAuthenticated)
	s := h.session(a.Email, a.Password)
	tok := h.requestReset(a.Email)

	type req struct {
		name         string
		method, path string
		token        string
		body         any
		hdr          http.Header
		status       int
	}
	cases := []req{
		{"200 JSON", http.MethodGet, "/users/me", a.Token, nil, nil, 200},
		{"200 token", http.MethodPost, "/token/refresh", "", obj{"refresh_token": s.RefreshToken}, nil, 200},
		{"200 health", http.MethodGet, "/healthz", "", nil, nil, 200},
		{"200 HEAD", http.MethodHead, "/healthz", "", nil, nil, 200},
		{"200 page", http.MethodGet, "/password-reset?token=" + tok, "", nil, nil, 200},
		{"201", http.MethodPost, "/users/", h.admin.Token, obj{"email": h.email("n"), "password": testPassword}, nil, 201},
		{"202", http.MethodPost, "/verify-email/resend", "", obj{"email": "x@example.com"}, nil, 202},
		{"204", http.MethodPost, "/logout", s.AccessToken, nil, nil, 204},
		{"204 preflight", http.MethodOptions, "/users/me", "", nil, http.Header{
			"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"PATCH"}}, 204},
		{"400", http.MethodPost, "/password-reset/confirm", "", obj{"token": "x", "new_password": newPassword}, nil, 400},
		{"400 page", http.MethodGet, "/password-reset", "", nil, nil, 400},
		{"401", http.MethodGet, "/users/me", "", nil, nil, 401},
		{"403", http.MethodGet, "/audit-log", a.Token, nil, nil, 403},
		{"404", http.MethodGet, "/nowhere", "", nil, nil, 404},
		{"405", http.MethodPut, "/logout", "", nil, nil, 405},
		{"409", http.MethodDelete, "/users/me", h.admin.Token, obj{"password": h.admin.Password}, nil, 409},
		{"413", http.MethodPost, "/password-reset/request", "", jsonBody(`"` + strings.Repeat("x", 2<<20) + `"`), nil, 413},
		{"415", http.MethodPost, "/token/refresh", "", rawBody{"text/plain", []byte("x")}, nil, 415},
		{"422", http.MethodPatch, "/users/me", a.Token, obj{}, nil, 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := h.doFrom("192.0.2.10:1", c.hdr, c.method, c.path, c.token, c.body)
			wantStatus(t, rec, c.status)
			wantSecurityHeaders(t, rec)
		})
	}

	t.Run("429", func(t *testing.T) {
		var rec *httptest.ResponseRecorder
		for i := range 11 { // 10 a minute per IP
			rec = h.doFrom("192.0.2.99:1", nil, http.MethodPost, "/password-reset/request", "", obj{"email": fmt.Sprintf("r%d@example.com", i)})
		}
		wantStatus(t, rec, http.StatusTooManyRequests)
		wantSecurityHeaders(t, rec)
	})

	t.Run("500, and a panic", func(t *testing.T) {
		srv, _ := newMockServer(parts{Authenticator: asAdmin(),
			UserGetter: failing(&httpapi.UserGetterMock{}, errors.New("boom")),
			MeReader:   &httpapi.MeReaderMock{MeFunc: func(context.Context, domain.Actor) (*domain.User, error) { panic("boom") }}})
		for _, path := range []string{"/users/" + unknownID, "/users/me"} {
			rec := serve(srv, newRequest(t, http.MethodGet, path, mockToken, nil))
			wantStatus(t, rec, http.StatusInternalServerError)
			wantSecurityHeaders(t, rec)
		}
	})
}

// accessLine is the access log record of the request with id, or nil.
func accessLine(tb testing.TB, logs *testsupport.Buffer, id string) map[string]any {
	tb.Helper()
	for _, rec := range logs.JSONLines(tb) {
		if rec["msg"] == "request" && rec["request_id"] == id {
			return rec
		}
	}
	return nil
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)

	t.Run("in every response and in its log line", func(t *testing.T) {
		seen := map[string]bool{}
		for _, c := range []struct {
			method, path, token string
			body                any
		}{
			{http.MethodGet, "/users/me", a.Token, nil},
			{http.MethodGet, "/users/me", "", nil},
			{http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {wrongPassword}}},
			{http.MethodPost, "/password-reset/request", "", obj{"email": a.Email}},
			{http.MethodGet, "/password-reset?token=x", "", nil},
			{http.MethodGet, "/nowhere", "", nil},
			{http.MethodDelete, "/login", "", nil},
		} {
			rec := h.do(c.method, c.path, c.token, c.body)
			id := rec.Header().Get("X-Request-ID")
			if !requestIDPattern.MatchString(id) || seen[id] {
				t.Errorf("%s %s: X-Request-ID %q is missing, malformed or reused", c.method, c.path, id)
				continue
			}
			seen[id] = true
			line := accessLine(t, h.logs, id)
			if line == nil {
				t.Errorf("%s %s: no access log line with request_id %s", c.method, c.path, id)
				continue
			}
			if line["method"] != c.method || line["status"] != float64(rec.Code) {
				t.Errorf("%s %s → %d: the log line with its id says %v %v", c.method, c.path, rec.Code, line["method"], line["status"])
			}
		}
	})

	t.Run("a sane incoming id is echoed and logged", func(t *testing.T) {
		for _, sent := range []string{"abc-123", "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "trace.42_x", strings.Repeat("a", 64)} {
			req := newRequest(t, http.MethodGet, "/users/me", a.Token, nil)
			req.Header.Set("X-Request-ID", sent)
			rec := serve(h.srv, req)
			if got := rec.Header().Get("X-Request-ID"); got != sent {
				t.Errorf("sent %q, got %q", sent, got)
			}
			if accessLine(t, h.logs, sent) == nil {
				t.Errorf("no access log line with the caller's id %q", sent)
			}
		}
	})

	t.Run("an evil incoming id is replaced", func(t *testing.T) {
		for _, sent := range []string{
			"abc\ndef", "abc\r\nSet-Cookie: session=stolen", `{"msg":"forged"}`, strings.Repeat("a", 200),
			strings.Repeat("a", 65), "<script>alert(1)</script>", "id with spaces", "caf\u00e9", "\x00",
		} {
			req := newRequest(t, http.MethodGet, "/users/me", a.Token, nil)
			req.Header.Set("X-Request-ID", sent)
			rec := serve(h.srv, req)
			got := rec.Header().Get("X-Request-ID")
			if got == sent || !requestIDPattern.MatchString(got) {
				t.Errorf("sent %q, got %q: want a fresh plain id", sent, got)
			}
			if accessLine(t, h.logs, got) == nil {
				t.Errorf("no access log line with the replacement id %q", got)
			}
			if rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("a header was injected: %v", rec.Header())
			}
		}
		if logs := h.logs.String(); strings.Contains(logs, "stolen") || strings.Contains(logs, "forged") || strings.Contains(logs, strings.Repeat("a", 65)) {
			t.Errorf("an evil id reached the log:\n%s", logs)
		}
	})

	t.Run("the id of a 500 is the one in its body and log", func(t *testing.T) {
		srv, logs := newMockServer(parts{Authenticator: asAdmin(), UserGetter: failing(&httpapi.UserGetterMock{}, errors.New("boom"))})
		rec := serve(srv, newRequest(t, http.MethodGet, "/users/"+unknownID, mockToken, nil))
		wantStatus(t, rec, http.StatusInternalServerError)
		id := rec.Header().Get("X-Request-ID")
		var body struct {
			RequestID string `json:"request_id"`
		}
		decodeBody(t, rec, &body)
		if body.RequestID != id || accessLine(t, logs, id) == nil {
			t.Errorf("500: header id %q, body id %q, logged: %v", id, body.RequestID, accessLine(t, logs, id) != nil)
		}
	})
}

func TestCORSOnlyForListedOrigins(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	h := newHarnessWith(t, httpapi.Options{CORSOrigins: []string{allowed, "http://localhost:3000"}})
	a := h.user(domain.RoleAuthenticated)
	withOrigin := func(method, path, origin, token string, preflight bool) *httptest.ResponseRecorder {
		hdr := http.Header{"Origin": {origin}}
		if preflight {
			hdr.Set("Access-Control-Request-Method", http.MethodPatch)
			hdr.Set("Access-Control-Request-Headers", "authorization, content-type")
		}
		return h.doFrom("192.0.2.1:1", hdr, method, path, token, nil)
	}

	t.Run("a listed origin", func(t *testing.T) {
		rec := withOrigin(http.MethodGet, "/users/me", allowed, a.Token, false)
		wantStatus(t, rec, http.StatusOK)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != allowed {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, allowed)
		}
		if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials = %q", got)
		}
		wantVaryOrigin(t, rec)

		pre := withOrigin(http.MethodOptions, "/users/me", allowed, "", true)
		wantStatus(t, pre, http.StatusNoContent)
		if got := pre.Header().Get("Access-Control-Allow-Origin"); got != allowed {
			t.Errorf("preflight Access-Control-Allow-Origin = %q", got)
		}
		if m := pre.Header().Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PATCH") {
			t.Errorf("preflight Access-Control-Allow-Methods = %q, want PATCH", m)
		}
		if hd := strings.ToLower(pre.Header().Get("Access-Control-Allow-Headers")); !strings.Contains(hd, "authorization") {
			t.Errorf("preflight Access-Control-Allow-Headers = %q, want Authorization", hd)
		}
	})

	t.Run("any other origin gets nothing", func(t *testing.T) {
		for _, origin := range []string{
			"https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com",
			"https://app.example.com:8443", "null", "https://APP.example.com.", "*",
		} {
			for _, preflight := range []bool{false, true} {
				method := http.MethodGet
				if preflight {
					method = http.MethodOptions
				}
				rec := withOrigin(method, "/users/me", origin, a.Token, preflight)
				for k := range rec.Header() {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("origin %q (preflight %v): %s = %q", origin, preflight, k, rec.Header().Get(k))
					}
				}
				if preflight && rec.Code >= 200 && rec.Code < 300 {
					t.Errorf("origin %q: preflight answered %d", origin, rec.Code)
				}
			}
		}
	})

	t.Run("no origins configured, no CORS", func(t *testing.T) {
		h := newHarness(t)
		hdr := http.Header{"Origin": {allowed}}
		rec := h.doFrom("192.0.2.1:1", hdr, http.MethodGet, "/healthz", "", nil)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q without CORS_ORIGINS", got)
		}
	})
}

// TestLoginTimingDoesNotRevealAccounts: an unknown email and a wrong
// password for a known one cost the same work (one password verification:
// the hash is what takes time) and get the same answer. Counting the
// hasher's calls makes this a property, not a timed assertion.
func TestLoginTimingDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	verified := h.verified("known")
	unverified := h.register("pending")
	manager := h.user(domain.RoleManager)
	verifies := countVerifies(t, h)

	try := func(body any) (*httptest.ResponseRecorder, int64) {
		before := verifies.Load()
		rec := h.do(http.MethodPost, "/login/", "", body)
		return rec, verifies.Load() - before
	}
	for _, shape := range []struct {
		name string
		body func(email string) any
	}{
		{"form", func(e string) any { return form{"username": {e}, "password": {wrongPassword}} }},
		{"JSON", func(e string) any { return obj{"email": e, "password": wrongPassword} }},
	} {
		t.Run(shape.name, func(t *testing.T) {
			unknown, n := try(shape.body(h.email("nobody")))
			wantDetail(t, unknown, http.StatusUnauthorized, "Incorrect email or password.")
			if n != 1 {
				t.Errorf("unknown email: %d password verifications, want 1", n)
			}
			for name, email := range map[string]string{
				"wrong password": verified.Email, "wrong password, unverified": unverified.Email,
				"wrong password, MANAGER": manager.Email, "wrong password, ADMIN": h.admin.Email,
				"not an email at all": "not-an-email", "another unknown email": "ghost@example.org",
			} {
				rec, n := try(shape.body(email))
				if n != 1 {
					t.Errorf("%s: %d password verifications, want 1", name, n)
				}
				wantSameAnswer(t, name+" vs unknown email", rec, unknown)
			}
		})
	}
}

// TestLockoutHoldsUnderConcurrentGuesses: a burst of guesses sent at once
// gets no more password checks than the lockout allows (section 4).
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.srv)
	t.Cleanup(srv.Close)
	a := h.verified("victim")
	verifies := countVerifies(t, h)

	const n = 30
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	t.Cleanup(client.CloseIdleConnections)
	send := func(i int, password string) (int, string, error) {
		var body io.Reader
		var ct string
		path := "/login/"
		if i%2 == 0 {
			body, ct = strings.NewReader(form{"username": {a.Email}, "password": {password}}.Encode()), "application/x-www-form-urlencoded"
		} else {
			data, _ := json.Marshal(obj{"email": strings.ToUpper(a.Email), "password": password})
			body, ct, path = strings.NewReader(string(data)), "application/json", "/login"
		}
		res, err := client.Post(srv.URL+path, ct, body)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		var d struct {
			Detail string `json:"detail"`
		}
		if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
			return 0, "", err
		}
		return res.StatusCode, d.Detail, nil
	}

	type outcome struct {
		status int
		detail string
	}
	counts := map[outcome]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			status, detail, err := send(i, wrongPassword)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[outcome{status, detail}]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()

	incorrect := outcome{http.StatusUnauthorized, "Incorrect email or password."}
	locked := outcome{http.StatusBadRequest, "Account locked due to too many failed login attempts."}
	if counts[incorrect] != maxAttempts || counts[locked] != n-maxAttempts || len(counts) != 2 {
		t.Errorf("answers = %v; want %d × %v and %d × %v", counts, maxAttempts, incorrect, n-maxAttempts, locked)
	}
	if got := verifies.Load(); got != maxAttempts {
		t.Errorf("%d passwords checked for %d concurrent guesses, want exactly %d", got, n, maxAttempts)
	}
	// The right password is refused now, without a check.
	for i := range 3 {
		status, detail, err := send(i, a.Password)
		if err != nil {
			t.Fatal(err)
		}
		if got := (outcome{status, detail}); got != locked {
			t.Errorf("the right password on the locked account: %v, want %v", got, locked)
		}
	}
	if got := verifies.Load(); got != maxAttempts {
		t.Errorf("%d passwords checked after the lock, want still %d", got, maxAttempts)
	}
	if u := h.getUser(a.ID); !u.IsLocked {
		t.Error("the account is not locked")
	}
}

// wantRateLimited checks a 429 with Retry-After (whole seconds, at least 1)
// and a detail.
func wantRateLimited(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	wantStatus(tb, rec, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
		tb.Errorf("Retry-After = %q, want a number of seconds ≥ 1", rec.Header().Get("Retry-After"))
	}
	var body struct {
		Detail string `json:"detail"`
	}
	decodeBody(tb, rec, &body)
	if body.Detail == "" {
		tb.Errorf("429 without a detail: %s", rec.Body)
	}
	wantSecurityHeaders(tb, rec)
}

// TestLoginRateLimitedPerIP: a password-guessing script spraying many
// accounts from one address is slowed to 60 tries a minute.
func TestLoginRateLimitedPerIP(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true})
	verifies := countVerifies(t, h)
	const ip = "198.51.100.7:4711"
	for i := range 60 {
		rec := h.doFrom(ip, nil, http.MethodPost, "/login/", "", form{"username": {fmt.Sprintf("spray%d@example.com", i)}, "password": {wrongPassword}})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("login %d: status %d, want 401; body %s", i+1, rec.Code, rec.Body)
		}
	}
	before := verifies.Load()
	wantRateLimited(t, h.doFrom(ip, nil, http.MethodPost, "/login/", "", form{"username": {"spray61@example.com"}, "password": {wrongPassword}}))
	// The refused attempt cost no password check, even with a valid user.
	a := h.verified("real")
	wantRateLimited(t, h.doFrom(ip, nil, http.MethodPost, "/login", "", obj{"email": a.Email, "password": a.Password}))
	if got := verifies.Load() - before; got != 0 {
		t.Errorf("%d passwords checked for rate-limited logins", got)
	}
	// Another address is not affected.
	wantStatus(t, h.doFrom("198.51.100.8:4711", nil, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}), http.StatusOK)
}

// TestLoginRateLimitedPerAccount: many addresses against one account.
func TestLoginRateLimitedPerAccount(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true})
	target := "target@example.com" // unknown: the limit must not depend on it existing
	for i := range 30 {
		rec := h.doFrom(fmt.Sprintf("203.0.113.%d:1", i), nil, http.MethodPost, "/login/", "", form{"username": {target}, "password": {wrongPassword}})
		wantStatus(t, rec, http.StatusUnauthorized)
	}
	wantRateLimited(t, h.doFrom("203.0.113.200:1", nil, http.MethodPost, "/login/", "", form{"username": {" TARGET@example.com"}, "password": {wrongPassword}}))
}

// TestRateLimitIgnoresSpoofedForwardedFor: a client that is not a trusted
// proxy cannot buy a fresh bucket with a forged X-Forwarded-For.
func TestRateLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"no trusted proxies", nil},
		{"the peer is not among the trusted proxies", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessWith(t, httpapi.Options{RateLimits: true, TrustedProxies: tc.trusted})
			const peer = "198.51.100.7:4711"
			spoof := func(i int) http.Header {
				return http.Header{
					"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d, 10.0.0.%d", i%250, i%250)},
					"X-Real-Ip":       {fmt.Sprintf("192.0.2.%d", i%250)},
					"Forwarded":       {fmt.Sprintf("for=192.0.2.%d", i%250)},
				}
			}
			for i := range 60 {
				rec := h.doFrom(peer, spoof(i), http.MethodPost, "/login/", "", form{"username": {fmt.Sprintf("u%d@example.com", i)}, "password": {wrongPassword}})
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("login %d: status %d; body %s", i+1, rec.Code, rec.Body)
				}
			}
			wantRateLimited(t, h.doFrom(peer, spoof(61), http.MethodPost, "/login/", "", form{"username": {"u61@example.com"}, "password": {wrongPassword}}))
		})
	}
}

// TestResetRequestRateLimitedPerAccount: one mailbox cannot be flooded with
// reset emails, from however many addresses.
func TestResetRequestRateLimitedPerAccount(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true})
	a := h.verified("flooded")
	ask := func(i int, email string) *httptest.ResponseRecorder {
		return h.doFrom(fmt.Sprintf("203.0.113.%d:1", i), nil, http.MethodPost, "/password-reset/request", "", obj{"email": email})
	}
	for i := range 5 {
		wantStatus(t, ask(i, a.Email), http.StatusAccepted)
	}
	wantRateLimited(t, ask(5, a.Email))
	wantRateLimited(t, ask(6, "  "+strings.ToUpper(a.Email)))
	if n := len(h.mail.sent(a.Email, domain.MessagePasswordReset)); n != 5 {
		t.Errorf("%d reset emails, want 5", n)
	}
	// Another account is not affected, and an unknown one is limited alike,
	// so the limit tells nothing about which accounts exist.
	wantStatus(t, ask(7, h.verified("other").Email), http.StatusAccepted)
	for i := range 5 {
		wantStatus(t, ask(10+i, "ghost@example.com"), http.StatusAccepted)
	}
	wantRateLimited(t, ask(20, "ghost@example.com"))
	// And resending verification has its own limit of the same kind.
	for i := range 5 {
		wantStatus(t, h.doFrom(fmt.Sprintf("203.0.113.%d:1", 30+i), nil, http.MethodPost, "/verify-email/resend", "", obj{"email": a.Email}), http.StatusAccepted)
	}
	wantRateLimited(t, h.doFrom("203.0.113.40:1", nil, http.MethodPost, "/verify-email/resend", "", obj{"email": a.Email}))
}

// TestNoRateLimitsWhenOff: with RateLimits false (RATE_LIMITS=off), nothing
// is limited.
func TestNoRateLimitsWhenOff(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: false})
	const ip = "198.51.100.7:4711"
	a := h.verified("busy")
	for i := range 100 {
		rec := h.doFrom(ip, nil, http.MethodPost, "/login/", "", form{"username": {fmt.Sprintf("x%d@example.com", i)}, "password": {wrongPassword}})
		wantStatus(t, rec, http.StatusUnauthorized)
	}
	for range 40 {
		wantStatus(t, h.doFrom(ip, nil, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}), http.StatusOK)
	}
	for range 12 {
		wantStatus(t, h.doFrom(ip, nil, http.MethodPost, "/password-reset/request", "", obj{"email": a.Email}), http.StatusAccepted)
		wantStatus(t, h.doFrom(ip, nil, http.MethodPost, "/verify-email/resend", "", obj{"email": a.Email}), http.StatusAccepted)
	}
	s := h.session(a.Email, a.Password)
	for range 70 {
		rec := h.doFrom(ip, nil, http.MethodPost, "/token/refresh", "", obj{"refresh_token": s.RefreshToken})
		s = decodeTokens(t, rec)
	}
}
