package httpapi_test

// FuzzAPIRequests throws arbitrary requests at every route of one server
// (section 6: every malformed request gets a clear 4xx, never a 5xx): the
// answer is never a 5xx, and its body is JSON, or HTML for the pages.
// `go test` runs the seeds; `go test -run '^$' -fuzz '^FuzzAPIRequests$'
// ./adapters/httpapi/` explores.

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

var fuzzMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

var fuzzAPIContentTypes = []string{
	"",
	"application/json",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=XyZ",
	"text/plain",
	"application/merge-patch+json",
	"application/json; charset=utf-8",
	"application/x-www-form-urlencoded; charset=ISO-8859-1",
	"invalid;;=",
}

// Path templates: {target} is a user's id (also in upper case as
// {TARGET}), {unknown} an id nobody has.
var fuzzPathTemplates = func() []string {
	var out []string
	add := func(p string) { out = append(out, p, p+"/") }
	for _, p := range []string{
		"/healthz", "/readyz", "/register", "/login", "/token/refresh", "/logout",
		"/password-reset/request", "/password-reset/confirm", "/password-reset", "/verify-email/resend",
		"/users/me", "/users/me/password", "/audit-log", "/users", "/nowhere",
	} {
		add(p)
	}
	for _, id := range []string{"{target}", "{TARGET}", "{unknown}", "not-a-uuid", "me", "0"} {
		add("/users/" + id)
		add("/users/" + id + "/upgrade")
		add("/users/" + id + "/unlock")
		add("/users/" + id + "/role")
		add("/verify-email/" + id + "/some-token")
	}
	// The account lifecycle (PRODUCT.md 8.2 to 8.4).
	for _, p := range []string{"/users/me/sessions", "/users/me/email", "/users/invite", "/email-change", "/email-change/confirm", "/invitation", "/invitations/accept"} {
		add(p)
	}
	for _, id := range []string{"{target}", "{unknown}", "not-a-uuid", "me"} {
		add("/users/" + id + "/sessions")
		add("/users/" + id + "/invitation")
		add("/users/me/sessions/" + id)
	}
	return append(out, "/")
}()

// fuzzPages are the paths that may answer HTML: the pages behind the
// links of emails and their forms.
var fuzzPages = []string{"/password-reset", "/email-change", "/email-change/confirm", "/invitation", "/invitations/accept"}

func fuzzPathIndex(tb testing.TB, template string) uint8 {
	i := slices.Index(fuzzPathTemplates, template)
	if i < 0 || i > 255 {
		tb.Fatalf("no fuzz path %q", template)
	}
	return uint8(i)
}

// fuzzRequestTimeout is how long one request may take: the fakes answer in
// microseconds, so anything near this is a hang.
const fuzzRequestTimeout = 10 * time.Second

// Auth modes.
const (
	fuzzNoAuth = iota
	fuzzAdmin
	fuzzBadToken
	fuzzAuthModes
)

// apiFuzzState is the one server a fuzz process drives, repaired when an
// input leaves it unusable (the ADMIN logged out, the target deleted).
type apiFuzzState struct {
	h          *harness
	adminToken string
	target     account
	runs       int
}

func newAPIFuzzState(tb testing.TB) *apiFuzzState {
	h := newHarness(tb)
	return &apiFuzzState{h: h, adminToken: h.admin.Token, target: h.verified("target")}
}

// prepare readies the state for one input run by t.
func (s *apiFuzzState) prepare(t *testing.T) {
	s.runs++
	if s.runs%2000 == 0 { // keep the stores and logs small
		*s = *newAPIFuzzState(t)
	}
	h := s.h
	h.tb, h.mail.tb = t, t
	h.logs.Reset()
	ctx := context.Background()
	if _, err := h.svc.Authenticate(ctx, s.adminToken); err != nil {
		res, err := h.svc.Login(ctx, h.admin.Email, h.admin.Password)
		if err != nil {
			t.Logf("the ADMIN cannot log in (%v): a new server", err)
			*s = *newAPIFuzzState(t)
			return
		}
		s.adminToken = res.AccessToken
	}
	if _, err := h.svc.GetUser(ctx, h.admin.actor(domain.RoleAdmin), s.target.ID); err != nil {
		s.target = h.verified("target")
	}
}

func (s *apiFuzzState) path(template string) string {
	return strings.NewReplacer(
		"{target}", s.target.ID, "{TARGET}", strings.ToUpper(s.target.ID), "{unknown}", unknownID,
	).Replace(template)
}

func fuzzMultipart(fields ...string) []byte {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("XyZ")
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1])
	}
	_ = w.Close()
	return buf.Bytes()
}

func FuzzAPIRequests(f *testing.F) {
	state := newAPIFuzzState(f)
	target := state.target

	type seed struct {
		method, path string
		ct           int
		auth         int
		query        string
		body         string
	}
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	const (
		ctNone = iota
		ctJSON
		ctForm
		ctMultipart
		ctText
	)
	// A valid request for every route; the password-changing ones carry
	// the wrong current password, so the ADMIN keeps theirs.
	seeds := []seed{
		{"GET", "/healthz", ctNone, fuzzNoAuth, "", ""},
		{"HEAD", "/readyz", ctNone, fuzzNoAuth, "", ""},
		{"POST", "/register/", ctJSON, fuzzNoAuth, "", js(obj{"email": "fuzz@example.com", "password": testPassword, "nickname": "fuzzer", "bio": "hi", "role": "ADMIN"})},
		{"POST", "/login/", ctForm, fuzzNoAuth, "", "grant_type=password&username=" + target.Email + "&password=" + testPassword + "&scope="},
		{"POST", "/login", ctJSON, fuzzNoAuth, "", js(obj{"email": target.Email, "password": testPassword})},
		{"POST", "/login/", ctMultipart, fuzzNoAuth, "", string(fuzzMultipart("username", target.Email, "password", wrongPassword))},
		{"POST", "/login/", ctForm, fuzzNoAuth, "", "grant_type=refresh_token&refresh_token=ABCDEF"},
		{"POST", "/token/refresh", ctJSON, fuzzNoAuth, "", js(obj{"refresh_token": "ABCDEF"})},
		{"POST", "/logout", ctNone, fuzzAdmin, "", ""},
		{"POST", "/logout/", ctJSON, fuzzAdmin, "", js(obj{"refresh_token": "ABCDEF"})},
		{"POST", "/password-reset/request", ctJSON, fuzzNoAuth, "", js(obj{"email": target.Email})},
		{"POST", "/password-reset/confirm", ctJSON, fuzzNoAuth, "", js(obj{"token": "ABCDEF", "new_password": newPassword})},
		{"GET", "/password-reset", ctNone, fuzzNoAuth, "token=ABCDEF", ""},
		{"POST", "/password-reset", ctForm, fuzzNoAuth, "", "token=ABCDEF&new_password=" + newPassword + "&repeat_password=" + newPassword},
		{"POST", "/verify-email/resend", ctJSON, fuzzNoAuth, "", js(obj{"email": target.Email})},
		{"GET", "/verify-email/{target}/some-token", ctNone, fuzzNoAuth, "", ""},
		{"GET", "/users/me", ctNone, fuzzAdmin, "", ""},
		{"PATCH", "/users/me", ctJSON, fuzzAdmin, "", js(obj{"bio": "fuzzing", "first_name": nil, "github_profile_url": "https://github.com/x"})},
		{"PATCH", "/users/me/", ctJSON, fuzzAdmin, "", js(obj{"role": "ADMIN"})},
		{"DELETE", "/users/me", ctJSON, fuzzAdmin, "", js(obj{"password": wrongPassword})},
		{"PUT", "/users/me/password", ctJSON, fuzzAdmin, "", js(obj{"current_password": wrongPassword, "new_password": newPassword})},
		{"GET", "/audit-log", ctNone, fuzzAdmin, "limit=5&event=login_failed&since=2025-01-01T00:00:00Z", ""},
		{"GET", "/audit-log/", ctNone, fuzzAdmin, "actor={unknown}&cursor={unknown}", ""},
		{"GET", "/users", ctNone, fuzzAdmin, "skip=0&limit=10", ""},
		{"POST", "/users/", ctJSON, fuzzAdmin, "", js(obj{"email": "made@example.com", "password": testPassword, "role": "MANAGER"})},
		{"GET", "/users/{target}", ctNone, fuzzAdmin, "", ""},
		{"PUT", "/users/{target}", ctJSON, fuzzAdmin, "", js(obj{"first_name": "Zed", "email": "zed@example.com"})},
		{"DELETE", "/users/{unknown}", ctNone, fuzzAdmin, "", ""},
		{"DELETE", "/users/{target}", ctNone, fuzzAdmin, "", ""},
		{"POST", "/users/{target}/upgrade", ctNone, fuzzAdmin, "", ""},
		{"POST", "/users/{TARGET}/unlock", ctNone, fuzzAdmin, "", ""},
		{"PATCH", "/users/{target}/role", ctJSON, fuzzAdmin, "", js(obj{"role": "MANAGER"})},
		{"PATCH", "/users/not-a-uuid/role", ctJSON, fuzzBadToken, "", js(obj{"role": "ADMIN"})},
		{"GET", "/users/me/sessions", ctNone, fuzzAdmin, "", ""},
		{"DELETE", "/users/me/sessions/{unknown}", ctNone, fuzzAdmin, "", ""},
		{"DELETE", "/users/me/sessions", ctNone, fuzzAdmin, "", ""},
		{"POST", "/users/me/email", ctJSON, fuzzAdmin, "", js(obj{"new_email": "moved@example.com", "password": wrongPassword})},
		{"GET", "/email-change", ctNone, fuzzNoAuth, "token=ABCDEF", ""},
		{"POST", "/email-change/confirm", ctJSON, fuzzNoAuth, "", js(obj{"token": "ABCDEF"})},
		{"POST", "/email-change/confirm", ctForm, fuzzNoAuth, "", "token=ABCDEF"},
		{"POST", "/users/invite", ctJSON, fuzzAdmin, "", js(obj{"email": "invited@example.com", "role": "MANAGER", "bio": "hi"})},
		{"POST", "/users/{target}/invitation", ctNone, fuzzAdmin, "", ""},
		{"GET", "/invitation", ctNone, fuzzNoAuth, "token=ABCDEF", ""},
		{"POST", "/invitations/accept", ctJSON, fuzzNoAuth, "", js(obj{"token": "ABCDEF", "password": newPassword})},
		{"POST", "/invitations/accept", ctForm, fuzzNoAuth, "", "token=ABCDEF&password=" + newPassword + "&repeat_password=" + newPassword},
		{"GET", "/users/{target}/sessions", ctNone, fuzzAdmin, "", ""},
		{"DELETE", "/users/{target}/sessions", ctNone, fuzzAdmin, "", ""},
		{"OPTIONS", "/users/me", ctNone, fuzzNoAuth, "", ""},
		{"PUT", "/login", ctText, fuzzNoAuth, "", "x"},
		{"GET", "/nowhere", ctNone, fuzzNoAuth, "", ""},
	}
	for _, s := range seeds {
		f.Add(uint8(slices.Index(fuzzMethods, s.method)), fuzzPathIndex(f, s.path), uint8(s.ct), uint8(s.auth), s.query, []byte(s.body))
	}

	f.Fuzz(func(t *testing.T, method, pathIdx, ct, auth uint8, query string, body []byte) {
		state.prepare(t)
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		template := fuzzPathTemplates[int(pathIdx)%len(fuzzPathTemplates)]
		req := httptest.NewRequest(m, state.path(template), bytes.NewReader(body))
		// A request line cannot hold controls or spaces: keep the query
		// only when a server could have received it.
		if !strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			req.URL.RawQuery = state.path(query)
		}
		if c := fuzzAPIContentTypes[int(ct)%len(fuzzAPIContentTypes)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		switch auth % fuzzAuthModes {
		case fuzzAdmin:
			req.Header.Set("Authorization", "Bearer "+state.adminToken)
		case fuzzBadToken: // the body as a token, if a header could carry it
			tok := string(body)
			if strings.ContainsFunc(tok, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				tok = "garbage"
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- serve(state.h.srv, req) }()
		var rec *httptest.ResponseRecorder
		select {
		case rec = <-done:
		case <-time.After(fuzzRequestTimeout):
			t.Fatalf("%s %s?%s (%s, auth %d): no answer within %v; body %q",
				m, req.URL.Path, req.URL.RawQuery, req.Header.Get("Content-Type"), auth%fuzzAuthModes, fuzzRequestTimeout, body)
		}

		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %s?%s (%s): status %d; body %s\nlogs:\n%s",
				m, req.URL.Path, req.URL.RawQuery, req.Header.Get("Content-Type"), rec.Code, rec.Body, state.h.logs)
		}
		if rec.Header().Get("X-Request-ID") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s %s: %d without the request id or security headers: %v", m, req.URL.Path, rec.Code, rec.Header())
		}
		if m == http.MethodHead {
			return // the server drops the body
		}
		ctype := rec.Header().Get("Content-Type")
		switch {
		case rec.Code == http.StatusNoContent:
			if rec.Body.Len() != 0 {
				t.Fatalf("%s %s: 204 with a body %q", m, req.URL.Path, rec.Body)
			}
		case strings.HasPrefix(ctype, "text/html"):
			if !slices.Contains(fuzzPages, strings.TrimSuffix(req.URL.Path, "/")) {
				t.Fatalf("%s %s: an HTML answer outside the pages", m, req.URL.Path)
			}
			if !strings.HasPrefix(rec.Body.String(), "<!DOCTYPE html>") || !strings.Contains(rec.Body.String(), "</html>") {
				t.Fatalf("%s %s: not a whole page: %s", m, req.URL.Path, rec.Body)
			}
		case ctype == "application/json" || strings.HasPrefix(ctype, "application/json;"):
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s: %d with a body that is not JSON: %q", m, req.URL.Path, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				var p map[string]json.RawMessage
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["detail"] == nil {
					t.Fatalf("%s %s: %d without a detail: %s", m, req.URL.Path, rec.Code, rec.Body)
				}
			}
		default:
			t.Fatalf("%s %s: %d with Content-Type %q: %q", m, req.URL.Path, rec.Code, ctype, rec.Body)
		}
	})
}
