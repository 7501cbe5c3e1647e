package httpapi_test

// Section 6 of PRODUCT.md: every malformed request gets a clear 4xx in
// JSON, never a 5xx.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// wantCleanError checks what every error answer owes: the status (0: any
// 4xx), never a 5xx, an X-Request-ID, a JSON body with a detail.
func wantCleanError(tb testing.TB, rec *httptest.ResponseRecorder, status int) {
	tb.Helper()
	if rec.Code >= 500 {
		tb.Fatalf("status %d for bad input; body: %s", rec.Code, rec.Body)
	}
	if status == 0 && (rec.Code < 400 || rec.Code > 499) || status != 0 && rec.Code != status {
		want := "a 4xx"
		if status != 0 {
			want = http.StatusText(status)
		}
		tb.Errorf("status = %d, want %s; body: %s", rec.Code, want, rec.Body)
	}
	if rec.Header().Get("X-Request-ID") == "" {
		tb.Error("no X-Request-ID")
	}
	var body map[string]json.RawMessage
	decodeBody(tb, rec, &body)
	if _, ok := body["detail"]; !ok {
		tb.Errorf("error body without detail: %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "goroutine ") || strings.Contains(rec.Body.String(), ".go:") {
		tb.Errorf("the body looks like a stack trace: %s", rec.Body)
	}
}

func jsonBody(s string) rawBody { return rawBody{"application/json", []byte(s)} }

func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	target := h.verified("target")
	big := strings.Repeat("a", 1<<20)
	// exactly reaches the 1 MiB limit: read, then refused for the bio's length.
	atLimit := func() string {
		head := `{"email":"limit@example.com","password":"` + testPassword + `","bio":"`
		return head + strings.Repeat("b", 1<<20-len(head)-2) + `"}`
	}()
	if len(atLimit) != 1<<20 {
		t.Fatalf("atLimit is %d bytes", len(atLimit))
	}
	deep := `{"bio":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`
	long := func(n int) string { return strings.Repeat("x", n) }
	reg := func(field string, v any) obj {
		b := obj{"email": "ok@example.com", "password": testPassword}
		b[field] = v
		return b
	}

	for _, tc := range []struct {
		name         string
		method, path string
		admin        bool // send the ADMIN's token
		body         any
		status       int // 0: any 4xx
	}{
		// Bodies that are not a JSON object.
		{"truncated JSON", "POST", "/register/", false, jsonBody(`{"email":`), 422},
		{"not JSON", "POST", "/register/", false, jsonBody(`email=a@example.com`), 422},
		{"JSON array", "POST", "/register/", false, jsonBody(`[{"email":"a@example.com"}]`), 422},
		{"JSON null", "POST", "/register/", false, jsonBody(`null`), 422},
		{"JSON string", "POST", "/register/", false, jsonBody(`"hello"`), 422},
		{"JSON number", "POST", "/register/", false, jsonBody(`42`), 422},
		{"empty body", "POST", "/register/", false, jsonBody(``), 422},
		{"trailing data", "POST", "/register/", false, jsonBody(`{"email":"a@example.com","password":"` + testPassword + `"} {}`), 422},
		{"deep nesting", "POST", "/register/", false, jsonBody(deep), 422},
		{"huge number", "POST", "/register/", false, jsonBody(`{"email":1e999999,"password":"x"}`), 422},
		{"array on PUT", "PUT", "/users/" + target.ID, true, jsonBody(`[]`), 422},
		{"null on PATCH /users/me", "PATCH", "/users/me", true, jsonBody(`null`), 422},
		{"array on PATCH role", "PATCH", "/users/" + target.ID + "/role", true, jsonBody(`["ADMIN"]`), 422},
		{"bad JSON on POST /users/", "POST", "/users/", true, jsonBody(`{,}`), 422},
		{"bad JSON on login", "POST", "/login/", false, jsonBody(`{"email":`), 422},

		// Size.
		{"body over 1 MiB", "POST", "/register/", false, jsonBody(`{"bio":"` + big + `"}`), 413},
		{"body over 1 MiB on PUT", "PUT", "/users/" + target.ID, true, jsonBody(`{"bio":"` + big + `"}`), 413},
		{"body over 1 MiB on POST /users/", "POST", "/users/", true, jsonBody(`{"bio":"` + big + `"}`), 413},
		{"body over 1 MiB on PATCH /users/me", "PATCH", "/users/me", true, jsonBody(`{"bio":"` + big + `"}`), 413},
		{"form over 1 MiB on login", "POST", "/login/", false, form{"username": {"a@example.com"}, "password": {big}}, 413},
		{"body of exactly 1 MiB", "POST", "/register/", false, jsonBody(atLimit), 422},

		// Content types.
		{"text/plain", "POST", "/register/", false, rawBody{"text/plain", []byte(`{"email":"a@example.com","password":"x"}`)}, 415},
		{"application/xml", "POST", "/register/", false, rawBody{"application/xml", []byte(`<user/>`)}, 415},
		{"form on register", "POST", "/register/", false, form{"email": {"a@example.com"}}, 415},
		{"malformed Content-Type", "POST", "/register/", false, rawBody{"application/json; charset", []byte(`{}`)}, 415},
		{"text/plain on login", "POST", "/login/", false, rawBody{"text/plain", []byte(`username=a&password=b`)}, 415},
		{"text/plain on PUT", "PUT", "/users/" + target.ID, true, rawBody{"text/plain", []byte(`{"bio":"x"}`)}, 415},
		{"text/plain on POST /users/", "POST", "/users/", true, rawBody{"text/plain", []byte(`{}`)}, 415},
		{"text/plain on PATCH /users/me", "PATCH", "/users/me", true, rawBody{"text/plain", []byte(`{"bio":"x"}`)}, 415},
		{"text/plain on PATCH role", "PATCH", "/users/" + target.ID + "/role", true, rawBody{"text/plain", []byte(`{"role":"ADMIN"}`)}, 415},
		// Any 4xx: see the BUG test "JSON without Content-Type" in seed_api_test.go.
		{"no Content-Type", "POST", "/register/", false, rawBody{"", []byte(`{"email":"a@example.com","password":"x"}`)}, 0},

		// Encoding.
		{"invalid UTF-8", "POST", "/register/", false, jsonBody(`{"email":"a@example.com","password":"abc` + "\xff\xfe" + `defgh"}`), 422},
		{"invalid UTF-8 in a key", "POST", "/register/", false, jsonBody(`{"em` + "\xc3" + `ail":"a@example.com"}`), 422},
		{"invalid UTF-8 in a form", "POST", "/login/", false, rawBody{"application/x-www-form-urlencoded", []byte("username=%FF%FE&password=abcdefghi")}, 422},
		{"NUL in a string", "POST", "/register/", false, reg("first_name", "a\x00b"), 422},
		{"NUL in the email", "POST", "/register/", false, obj{"email": "a\x00@example.com", "password": testPassword}, 422},
		{"NUL in the password", "POST", "/register/", false, reg("password", "abcdefgh\x00ijk"), 422},
		{"NUL in a form", "POST", "/login/", false, form{"username": {"a\x00@example.com"}, "password": {testPassword}}, 422},
		{"raw control character", "POST", "/register/", false, jsonBody("{\"email\":\"a\x00@example.com\"}"), 422},
		{"NUL in PUT", "PUT", "/users/" + target.ID, true, obj{"bio": "\x00"}, 422},
		{"NUL in PATCH /users/me", "PATCH", "/users/me", true, obj{"nickname": "ab\x00cd"}, 422},

		// Absurd lengths.
		{"long email", "POST", "/register/", false, reg("email", long(10_000)+"@example.com"), 422},
		{"email of 256", "POST", "/register/", false, reg("email", long(64)+"@"+long(60)+"."+long(60)+"."+long(60)+".example.com"), 422},
		{"long nickname", "POST", "/register/", false, reg("nickname", long(10_000)), 422},
		{"nickname of 51", "POST", "/register/", false, reg("nickname", long(51)), 422},
		{"long password", "POST", "/register/", false, reg("password", long(100_000)), 422},
		{"long first_name", "POST", "/register/", false, reg("first_name", long(10_000)), 422},
		{"long preferred_language", "POST", "/register/", false, reg("preferred_language", long(51)), 422},
		{"long bio", "POST", "/register/", false, reg("bio", long(500_000)), 422},
		{"long URL", "POST", "/register/", false, reg("github_profile_url", "https://github.com/"+long(300)), 422},
		{"long unknown key", "POST", "/register/", false, reg(long(10_000), "x"), 422},
		{"long role", "POST", "/users/", true, obj{"email": "x@example.com", "password": testPassword, "role": long(10_000)}, 422},
		{"long email on PUT", "PUT", "/users/" + target.ID, true, obj{"email": long(10_000) + "@example.com"}, 422},
		{"long login", "POST", "/login/", false, form{"username": {long(100_000)}, "password": {long(100_000)}}, 401},

		// Query strings and paths.
		{"limit too big", "GET", "/users/?limit=99999999999999999999", true, nil, 422},
		{"skip NUL", "GET", "/users/?skip=%00", true, nil, 422},
		{"skip float", "GET", "/users/?skip=1e3", true, nil, 422},
		{"NUL id", "GET", "/users/%00", true, nil, 404},
		{"long id", "GET", "/users/" + long(10_000), true, nil, 404},
		{"long id on DELETE", "DELETE", "/users/" + long(10_000), true, nil, 404},
		{"long verification token", "GET", "/verify-email/" + target.ID + "/" + long(10_000), false, nil, 400},
		{"percent-encoded slash in id", "GET", "/users/a%2Fb", true, nil, 404},

		// Routing.
		{"unknown route", "GET", "/nope", false, nil, 404},
		{"unknown sub-route", "GET", "/users/" + target.ID + "/nope", true, nil, 404},
		{"wrong method on register", "DELETE", "/register/", false, nil, 405},
		{"wrong method on login", "GET", "/login", false, nil, 405},
		{"wrong method on users", "PATCH", "/users/", true, nil, 405},
		{"wrong method on verify", "POST", "/verify-email/" + target.ID + "/x", false, nil, 405},
		{"wrong method on upgrade", "GET", "/users/" + target.ID + "/upgrade", true, nil, 405},
		{"wrong method on role", "PUT", "/users/" + target.ID + "/role", true, nil, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := ""
			if tc.admin {
				token = h.admin.Token
			}
			wantCleanError(t, h.do(tc.method, tc.path, token, tc.body), tc.status)
		})
	}

	t.Run("nothing was created", func(t *testing.T) {
		rec := h.do(http.MethodGet, "/users/", h.admin.Token, nil)
		wantStatus(t, rec, http.StatusOK)
		var p pageBody
		decodeBody(t, rec, &p)
		if p.Total != 2 {
			t.Errorf("%d users after bad requests, want the 2 set up", p.Total)
		}
	})

	t.Run("404 and 405 bodies", func(t *testing.T) {
		wantDetail(t, h.do(http.MethodGet, "/nope", "", nil), http.StatusNotFound, "Not Found")
		wantDetail(t, h.do(http.MethodDelete, "/register", "", nil), http.StatusMethodNotAllowed, "Method Not Allowed")
	})
}

// TestBadTokens sends tokens that must not authenticate.
func TestBadTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAdmin)
	now := h.clock.Now()
	issue := func(key []byte, issuer string, c ports.AccessClaims, at time.Time) string {
		tokens, err := jwttoken.New(key, issuer, accessTTL)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(c, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := ports.AccessClaims{UserID: a.ID, Role: domain.RoleAdmin}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(a.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var inToken struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &inToken); err != nil {
		t.Fatal(err)
	}
	claims.SessionID = inToken.SID

	// The control: a token made the same way is accepted.
	wantStatus(t, h.do(http.MethodGet, "/users/me", issue(jwtKey, jwtIssuer, claims, now), nil), http.StatusOK)

	for _, tc := range []struct{ name, header string }{
		{"empty", ""},
		{"Basic", "Basic dXNlcjpwYXNz"},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"other scheme", "Token " + a.Token},
		{"garbage", "Bearer garbage"},
		{"truncated", "Bearer " + a.Token[:len(a.Token)-3]},
		{"alg none", "Bearer " + b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		{"tampered payload", "Bearer " + parts[0] + "." + b64([]byte(strings.Replace(string(payload), `"ADMIN"`, `"MANAGER"`, 1))) + "." + parts[2]},
		{"other key", "Bearer " + issue([]byte("another key, another key, another key"), jwtIssuer, claims, now)},
		{"other issuer", "Bearer " + issue(jwtKey, "http://evil", claims, now)},
		{"unknown user", "Bearer " + issue(jwtKey, jwtIssuer, ports.AccessClaims{UserID: unknownID, Role: domain.RoleAdmin}, now)},
		{"non-UUID subject", "Bearer " + issue(jwtKey, jwtIssuer, ports.AccessClaims{UserID: "root", Role: domain.RoleAdmin}, now)},
		{"role claim not the user's", "Bearer " + issue(jwtKey, jwtIssuer, ports.AccessClaims{UserID: h.verified("x").ID, Role: domain.RoleAdmin}, now)},
		{"old token version", "Bearer " + issue(jwtKey, jwtIssuer, ports.AccessClaims{UserID: a.ID, Role: domain.RoleAdmin, TokenVersion: -1}, now)},
		{"issued in the future", "Bearer " + issue(jwtKey, jwtIssuer, claims, now.Add(time.Hour))},
		{"expired", "Bearer " + issue(jwtKey, jwtIssuer, claims, now.Add(-accessTTL-2*jwtLeeway))},
		{"two tokens", "Bearer " + a.Token + " " + a.Token},
		{"long", "Bearer " + strings.Repeat("a", 100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/users/me", "/users/"} {
				req := newRequest(t, http.MethodGet, path, "", nil)
				req.Header.Set("Authorization", tc.header)
				rec := serve(h.srv, req)
				wantUnauthorized(t, rec)
				wantCleanError(t, rec, http.StatusUnauthorized)
			}
		})
	}

	t.Run("scheme is case-insensitive", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, "/users/me", "", nil)
		req.Header.Set("Authorization", "bearer "+a.Token)
		wantStatus(t, serve(h.srv, req), http.StatusOK)
	})
}

// TestResponseHeaders checks what every answer carries.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("a")
	for _, tc := range []struct {
		status       int
		method, path string
		token        string
		body         any
	}{
		{200, http.MethodGet, "/users/" + a.ID, h.admin.Token, nil},
		{201, http.MethodPost, "/users/", h.admin.Token, obj{"email": "n@example.com", "password": testPassword}},
		{400, http.MethodGet, "/verify-email/" + unknownID + "/y", "", nil},
		{422, http.MethodGet, "/verify-email/x/y", "", nil},
		{401, http.MethodGet, "/users/", "", nil},
		{403, http.MethodGet, "/users/", h.login(a.Email, a.Password), nil},
		{404, http.MethodGet, "/nowhere", "", nil},
		{405, http.MethodPut, "/login/", "", nil},
		{413, http.MethodPost, "/register/", "", jsonBody(`"` + strings.Repeat("x", 2<<20) + `"`)},
		{415, http.MethodPost, "/register/", "", rawBody{"text/plain", []byte("hi")}},
		{422, http.MethodPost, "/register/", "", obj{}},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			rec := h.do(tc.method, tc.path, tc.token, tc.body)
			wantStatus(t, rec, tc.status)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := rec.Header().Get("X-Request-ID"); id == "" {
				t.Error("no X-Request-ID")
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
		})
	}

	t.Run("a caller's request id is kept when plain, replaced otherwise", func(t *testing.T) {
		for _, tc := range []struct {
			sent string
			kept bool
		}{
			{"req-123_abc.DEF", true},
			{"has space", false},
			{strings.Repeat("a", 65), false},
			{"<script>", false},
		} {
			req := newRequest(t, http.MethodGet, "/nope", "", nil)
			req.Header.Set("X-Request-ID", tc.sent)
			got := serve(h.srv, req).Header().Get("X-Request-ID")
			if (got == tc.sent) != tc.kept || got == "" || !regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(got) {
				t.Errorf("sent X-Request-ID %q, got %q", tc.sent, got)
			}
		}
	})

	t.Run("request ids differ", func(t *testing.T) {
		first := h.do(http.MethodGet, "/nope", "", nil).Header().Get("X-Request-ID")
		second := h.do(http.MethodGet, "/nope", "", nil).Header().Get("X-Request-ID")
		if first == second {
			t.Errorf("two requests share the id %q", first)
		}
	})
}

// TestCancelledClient checks that a client who hangs up mid-login is not a 5xx
// logged as an internal error.
func TestCancelledClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := newRequest(t, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}).WithContext(ctx)
	rec := serve(h.srv, req)
	if rec.Code >= 500 && rec.Code != 499 {
		t.Errorf("status %d for a cancelled request", rec.Code)
	}
	if strings.Contains(h.logs.String(), `"msg":"internal error"`) {
		t.Errorf("a cancelled request was logged as an internal error:\n%s", h.logs)
	}
}
