package httpapi_test

// Helpers for the section-5 tests (sessions, recovery, audit, hardening):
// servers built with httpapi.Options, the token pair of a login, requests
// from a chosen client address, mail links and the audit log.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/domain"
)

// newHarnessWith is newHarness serving with opts (rate limits, CORS…).
// The server logs to the harness's buffer, as newHarness's does.
func newHarnessWith(tb testing.TB, opts httpapi.Options) *harness {
	tb.Helper()
	h := newHarness(tb)
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Webhooks == nil {
		opts.Webhooks = h.hooks
	}
	h.srv = httpapi.NewServer(logger, h.svc, opts)
	return h
}

// tokenPair is the OAuth2 token response of /login/ and /token/refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// decodeTokens checks a 200 token response and returns it.
func decodeTokens(tb testing.TB, rec *httptest.ResponseRecorder) tokenPair {
	tb.Helper()
	wantStatus(tb, rec, http.StatusOK)
	var keys map[string]any
	decodeBody(tb, rec, &keys)
	for _, k := range []string{"access_token", "token_type", "expires_in", "refresh_token"} {
		if _, ok := keys[k]; !ok {
			tb.Errorf("token response without %q: %s", k, rec.Body)
		}
	}
	var tp tokenPair
	decodeBody(tb, rec, &tp)
	if tp.AccessToken == "" || tp.RefreshToken == "" || tp.TokenType != "bearer" || tp.ExpiresIn != int(accessTTL.Seconds()) {
		tb.Errorf("token response %s: want an access_token, a refresh_token, token_type bearer, expires_in %d",
			rec.Body, int(accessTTL.Seconds()))
	}
	if tp.AccessToken == tp.RefreshToken {
		tb.Errorf("the refresh token is the access token")
	}
	return tp
}

// session logs in through POST /login/ (OAuth2 form) and returns both tokens.
func (h *harness) session(email, password string) tokenPair {
	h.tb.Helper()
	return decodeTokens(h.tb, h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {password}}))
}

// refresh sends POST /token/refresh.
func (h *harness) refresh(refreshToken string) *httptest.ResponseRecorder {
	h.tb.Helper()
	return h.do(http.MethodPost, "/token/refresh", "", obj{"refresh_token": refreshToken})
}

// wantInvalidRefresh checks the 401 of a refresh token that no longer works.
func wantInvalidRefresh(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	wantDetail(tb, rec, http.StatusUnauthorized, "Invalid refresh token")
}

// wantTokenDead checks that an access token no longer authenticates.
func (h *harness) wantTokenDead(token string) {
	h.tb.Helper()
	wantUnauthorized(h.tb, h.do(http.MethodGet, "/users/me", token, nil))
}

// wantTokenAlive checks that an access token still authenticates.
func (h *harness) wantTokenAlive(token string) {
	h.tb.Helper()
	wantStatus(h.tb, h.do(http.MethodGet, "/users/me", token, nil), http.StatusOK)
}

// doFrom serves one request whose peer is addr ("ip:port"), with extra headers.
func (h *harness) doFrom(addr string, hdr http.Header, method, target, token string, body any) *httptest.ResponseRecorder {
	h.tb.Helper()
	req := newRequest(h.tb, method, target, token, body)
	req.RemoteAddr = addr
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return serve(h.srv, req)
}

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

// auditItem is one event of GET /audit-log.
type auditItem struct {
	ID     string    `json:"id"`
	Event  string    `json:"event"`
	Actor  *string   `json:"actor"`
	Target *string   `json:"target"`
	IP     *string   `json:"ip"`
	At     time.Time `json:"at"`
	Detail *string   `json:"detail"`
}

// auditPage is a page of GET /audit-log.
type auditPage struct {
	Items      []auditItem `json:"items"`
	NextCursor *string     `json:"next_cursor"`
	Links      []linkBody  `json:"links"`
}

// audit reads GET /audit-log?query as the bootstrap ADMIN.
func (h *harness) audit(query url.Values) auditPage {
	h.tb.Helper()
	rec := h.do(http.MethodGet, "/audit-log?"+query.Encode(), h.admin.Token, nil)
	wantStatus(h.tb, rec, http.StatusOK)
	var keys map[string]any
	decodeBody(h.tb, rec, &keys)
	for _, k := range []string{"items", "next_cursor", "links"} {
		if _, ok := keys[k]; !ok {
			h.tb.Errorf("audit page without %q: %s", k, rec.Body)
		}
	}
	var p auditPage
	decodeBody(h.tb, rec, &p)
	return p
}

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

// countVerifies counts the fake hasher's Verify calls until the test ends.
func countVerifies(tb testing.TB, h *harness) *atomic.Int64 {
	tb.Helper()
	var n atomic.Int64
	hook := func(string) { n.Add(1) }
	if !h.hasher.beforeVerify.CompareAndSwap(nil, &hook) {
		tb.Fatal("the hasher already has a beforeVerify hook")
	}
	tb.Cleanup(func() { h.hasher.beforeVerify.Store(nil) })
	return &n
}

// wantSameAnswer checks that two answers cannot be told apart: status,
// headers (but the request id and date) and body.
func wantSameAnswer(tb testing.TB, what string, a, b *httptest.ResponseRecorder) {
	tb.Helper()
	if a.Code != b.Code {
		tb.Errorf("%s: status %d vs %d", what, a.Code, b.Code)
	}
	if a.Body.String() != b.Body.String() {
		tb.Errorf("%s: bodies differ:\n%s\n%s", what, a.Body, b.Body)
	}
	ha, hb := a.Header().Clone(), b.Header().Clone()
	for _, k := range []string{"X-Request-Id", "Date"} {
		ha.Del(k)
		hb.Del(k)
	}
	if !reflect.DeepEqual(ha, hb) {
		tb.Errorf("%s: headers differ:\n%v\n%v", what, ha, hb)
	}
}

// hookedStore is the memory store with a hook run each time the use cases
// write a user, before the write reaches the store: a test acts there as a
// request arriving at that moment would.
type hookedStore struct {
	*memory.UserStore
	beforeUpdate atomic.Pointer[func()]
}

func (s *hookedStore) UpdateUser(ctx context.Context, id string, fn func(*domain.User) error) error {
	if hook := s.beforeUpdate.Load(); hook != nil {
		(*hook)()
	}
	return s.UserStore.UpdateUser(ctx, id, fn)
}

// newHarnessHooked is newHarness whose use cases reach the store through
// hookedStore.
func newHarnessHooked(tb testing.TB) (*harness, *hookedStore) {
	tb.Helper()
	var hooked *hookedStore
	h := newHarnessOn(tb, func(store *memory.UserStore) userAndSessionStore {
		hooked = &hookedStore{UserStore: store}
		return hooked
	})
	return h, hooked
}
