package httpapi_test

// Section 5 of PRODUCT.md, "Session and recovery endpoints": the rows for
// POST /login/ (refresh_token), POST /token/refresh and POST /logout,
// written as a client would use them.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/usersvc/usersvc/domain"
)

// The tokens of a login and what a test checks of them, used by every
// file that needs a session (h.session) or its end (wantTokenDead).

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

func TestLoginReturnsRefreshToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("login")
	seen := map[string]bool{}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"OAuth2 form", form{"username": {a.Email}, "password": {a.Password}, "grant_type": {"password"}}},
		{"JSON", obj{"email": a.Email, "password": a.Password}},
		{"multipart form", multipartForm(t, map[string]string{"username": a.Email, "password": a.Password})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(http.MethodPost, "/login/", "", tc.body)
			tp := decodeTokens(t, rec)
			if seen[tp.RefreshToken] {
				t.Errorf("a second login got the refresh token of an earlier one")
			}
			seen[tp.RefreshToken] = true
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store on a token response", got)
			}
			h.wantTokenAlive(tp.AccessToken)
		})
	}
}

func TestTokenRefresh(t *testing.T) {
	t.Parallel()

	t.Run("rotates: the same shape as /login/ with a new refresh token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("rot")
		first := h.session(a.Email, a.Password)
		second := decodeTokens(t, h.refresh(first.RefreshToken))
		if second.RefreshToken == first.RefreshToken {
			t.Fatal("refresh returned the same refresh token")
		}
		if second.AccessToken == first.AccessToken {
			t.Error("refresh returned the same access token")
		}
		rec := h.do(http.MethodGet, "/users/me", second.AccessToken, nil)
		wantStatus(t, rec, http.StatusOK)
		if me := decodeUser(t, rec); me.ID != a.ID {
			t.Errorf("the refreshed token is %s's, want %s's", me.ID, a.ID)
		}
		// Without the trailing slash too, and the chain goes on.
		third := decodeTokens(t, h.do(http.MethodPost, "/token/refresh/", "", obj{"refresh_token": second.RefreshToken}))
		h.wantTokenAlive(third.AccessToken)
		wantStatus(t, h.refresh(third.RefreshToken), http.StatusOK)
	})

	t.Run("the old token is refused after a rotation", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("old")
		first := h.session(a.Email, a.Password)
		wantStatus(t, h.refresh(first.RefreshToken), http.StatusOK)
		wantInvalidRefresh(t, h.refresh(first.RefreshToken))
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("exp")
		tp := h.session(a.Email, a.Password)
		// The harness runs with the default REFRESH_TOKEN_TTL, 720h.
		h.clock.Advance(720*time.Hour + time.Minute)
		wantInvalidRefresh(t, h.refresh(tp.RefreshToken))
	})

	t.Run("a refresh extends the session", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("ext")
		tp := h.session(a.Email, a.Password)
		h.clock.Advance(700 * time.Hour)
		tp = decodeTokens(t, h.refresh(tp.RefreshToken))
		h.clock.Advance(700 * time.Hour)
		wantStatus(t, h.refresh(tp.RefreshToken), http.StatusOK)
	})

	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("g")
		tp := h.session(a.Email, a.Password)
		for _, tok := range []string{
			"garbage", "", " ", tp.AccessToken, tp.RefreshToken + "x", strings.ToLower(tp.RefreshToken),
			strings.Repeat("r", 10_000), "\u00e9\u00e9\u00e9",
		} {
			wantInvalidRefresh(t, h.refresh(tok))
		}
		// Garbage did not hurt the real token.
		wantStatus(t, h.refresh(tp.RefreshToken), http.StatusOK)
	})

	t.Run("malformed bodies", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		wantValidation(t, h.do(http.MethodPost, "/token/refresh", "", obj{}), "body", "refresh_token")
		wantValidation(t, h.do(http.MethodPost, "/token/refresh", "", obj{"refresh_token": 42}), "body", "refresh_token")
		wantValidation(t, h.do(http.MethodPost, "/token/refresh", "", obj{"refresh_token": "x", "user_id": h.admin.ID}), "body", "user_id")
		wantValidation(t, h.do(http.MethodPost, "/token/refresh", "", jsonBody(`{"refresh_token":`)), "body")
		wantStatus(t, h.do(http.MethodPost, "/token/refresh", "", rawBody{"text/plain", []byte("x")}), http.StatusUnsupportedMediaType)
	})

	t.Run("a deleted user's refresh token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("del")
		tp := h.session(a.Email, a.Password)
		wantStatus(t, h.do(http.MethodDelete, "/users/"+a.ID, h.admin.Token, nil), http.StatusNoContent)
		wantInvalidRefresh(t, h.refresh(tp.RefreshToken))
	})

	t.Run("a locked user's refresh token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("lock")
		tp := h.session(a.Email, a.Password)
		// Wrong passwords stop new logins only: the open session refreshes on.
		h.lockByHTTP(a.Email)
		next := decodeTokens(t, h.refresh(tp.RefreshToken))
		// A lock imposed by staff ends it.
		wantStatus(t, h.do(http.MethodPost, "/users/"+a.ID+"/lock", h.admin.Token, nil), http.StatusOK)
		wantInvalidRefresh(t, h.refresh(next.RefreshToken))
	})

	// Section 4 ends a demoted user's access tokens; whether the session
	// survives is not specified, but it never yields the old role again.
	t.Run("a demoted user's refresh never yields the old role", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		m := h.user(domain.RoleManager)
		tp := h.session(m.Email, m.Password)
		wantStatus(t, h.do(http.MethodPatch, "/users/"+m.ID+"/role", h.admin.Token, obj{"role": "AUTHENTICATED"}), http.StatusOK)
		h.wantTokenDead(tp.AccessToken)
		rec := h.refresh(tp.RefreshToken)
		if rec.Code == http.StatusOK {
			fresh := decodeTokens(t, rec)
			wantForbidden(t, h.do(http.MethodGet, "/users/", fresh.AccessToken, nil))
			if me := decodeUser(t, h.do(http.MethodGet, "/users/me", fresh.AccessToken, nil)); me.Role != "AUTHENTICATED" {
				t.Errorf("role after refresh = %s, want AUTHENTICATED", me.Role)
			}
		} else {
			wantInvalidRefresh(t, rec)
		}
	})
}

// TestRefreshTokenReuseRevokesFamily: a stolen refresh token used after its
// owner rotated it (or the owner's, after the thief did) ends the session.
func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("victim")
	first := h.session(a.Email, a.Password)
	other := h.session(a.Email, a.Password) // another device: must survive
	second := decodeTokens(t, h.refresh(first.RefreshToken))

	wantInvalidRefresh(t, h.refresh(first.RefreshToken)) // the reuse
	wantInvalidRefresh(t, h.refresh(second.RefreshToken))
	h.wantTokenDead(second.AccessToken)
	h.wantTokenDead(first.AccessToken)
	// Presenting it again changes nothing, and never revives the family.
	wantInvalidRefresh(t, h.refresh(first.RefreshToken))
	wantInvalidRefresh(t, h.refresh(second.RefreshToken))

	h.wantTokenAlive(other.AccessToken)
	wantStatus(t, h.refresh(other.RefreshToken), http.StatusOK)

	reused := h.audit(map[string][]string{"event": {"refresh_token_reused"}, "target": {a.ID}})
	if len(reused.Items) == 0 {
		t.Errorf("no refresh_token_reused event for %s", a.ID)
	}
}

func TestConcurrentRefreshRotatesOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("race")
	tp := h.session(a.Email, a.Password)
	const n = 10
	recs := make([]*httptest.ResponseRecorder, n)
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = newRequest(t, http.MethodPost, "/token/refresh", "", obj{"refresh_token": tp.RefreshToken})
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			recs[i] = serve(h.srv, reqs[i])
		})
	}
	close(start)
	wg.Wait()
	var winners []tokenPair
	for _, rec := range recs {
		if rec.Code == http.StatusOK {
			winners = append(winners, decodeTokens(t, rec))
			continue
		}
		wantInvalidRefresh(t, rec)
	}
	if len(winners) != 1 {
		t.Fatalf("%d concurrent rotations of one token succeeded, want 1", len(winners))
	}
	// The losers were reuses: the whole session is gone.
	wantInvalidRefresh(t, h.refresh(winners[0].RefreshToken))
	h.wantTokenDead(winners[0].AccessToken)
}

// TestRefreshGrantOnLogin: the OAuth2 refresh grant (RFC 6749 section 6)
// on the token endpoint, /login/.
func TestRefreshGrantOnLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("grant")
	first := h.session(a.Email, a.Password)
	grant := func(tok string) *httptest.ResponseRecorder {
		return h.do(http.MethodPost, "/login/", "", form{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
	}
	second := decodeTokens(t, grant(first.RefreshToken))
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("the refresh grant returned the same refresh token")
	}
	h.wantTokenAlive(second.AccessToken)
	wantInvalidRefresh(t, grant(first.RefreshToken)) // reuse: the family ends
	wantInvalidRefresh(t, grant(second.RefreshToken))
	wantInvalidRefresh(t, grant("garbage"))

	wantValidation(t, h.do(http.MethodPost, "/login/", "", form{"grant_type": {"refresh_token"}}), "body", "refresh_token")
	wantValidation(t, h.do(http.MethodPost, "/login/", "", form{"grant_type": {"client_credentials"}, "refresh_token": {"x"}}), "body", "grant_type")

	// The two endpoints share one rotation.
	third := h.session(a.Email, a.Password)
	fourth := decodeTokens(t, grant(third.RefreshToken))
	wantStatus(t, h.refresh(fourth.RefreshToken), http.StatusOK)
}

// TestOAuth2RefreshTokenSource: golang.org/x/oauth2 renews an expired token
// against /login/ as its TokenURL.
func TestOAuth2RefreshTokenSource(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.srv)
	t.Cleanup(srv.Close)
	a := h.verified("oauth")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
		conf := &oauth2.Config{ClientID: "app", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/", AuthStyle: style}}
		tok, err := conf.PasswordCredentialsToken(ctx, a.Email, a.Password)
		if err != nil {
			t.Fatalf("PasswordCredentialsToken: %v", err)
		}
		if tok.RefreshToken == "" {
			t.Fatalf("no refresh token from the password grant: %+v", tok)
		}
		stale := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		fresh, err := conf.TokenSource(ctx, stale).Token()
		if err != nil {
			t.Fatalf("refreshing through TokenSource: %v", err)
		}
		if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
			t.Errorf("refreshed token %+v: want a new access and a new refresh token", fresh)
		}
		res, err := conf.Client(ctx, fresh).Get(srv.URL + "/users/me")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET /users/me with the refreshed token: %d", res.StatusCode)
		}
		// The spent refresh token is an OAuth2 error for the library too.
		_, err = conf.TokenSource(ctx, stale).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("reusing the spent refresh token: %v, want a 401 RetrieveError", err)
		}
	}
}

// TestLogoutRevokesSessionAndAccessToken: a token taken from a logged-out
// device (a shared computer, a stolen laptop) is worthless.
func TestLogoutRevokesSessionAndAccessToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("out")
	s1 := h.session(a.Email, a.Password)
	s2 := h.session(a.Email, a.Password)

	rec := h.do(http.MethodPost, "/logout", s1.AccessToken, nil)
	wantStatus(t, rec, http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("204 with a body: %q", rec.Body)
	}
	h.wantTokenDead(s1.AccessToken)
	wantInvalidRefresh(t, h.refresh(s1.RefreshToken))
	// Logging out twice: the token is dead.
	wantUnauthorized(t, h.do(http.MethodPost, "/logout", s1.AccessToken, nil))

	// The other device's session goes on.
	h.wantTokenAlive(s2.AccessToken)
	wantStatus(t, h.refresh(s2.RefreshToken), http.StatusOK)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("with the session's refresh token in the body", func(t *testing.T) {
		a := h.verified("body")
		s := h.session(a.Email, a.Password)
		wantStatus(t, h.do(http.MethodPost, "/logout/", s.AccessToken, obj{"refresh_token": s.RefreshToken}), http.StatusNoContent)
		h.wantTokenDead(s.AccessToken)
		wantInvalidRefresh(t, h.refresh(s.RefreshToken))
	})

	t.Run("with another own session's refresh token, both end", func(t *testing.T) {
		a := h.verified("both")
		s1 := h.session(a.Email, a.Password)
		s2 := h.session(a.Email, a.Password)
		wantStatus(t, h.do(http.MethodPost, "/logout", s1.AccessToken, obj{"refresh_token": s2.RefreshToken}), http.StatusNoContent)
		h.wantTokenDead(s1.AccessToken)
		h.wantTokenDead(s2.AccessToken)
		wantInvalidRefresh(t, h.refresh(s2.RefreshToken))
	})

	t.Run("another user's refresh token is not the caller's to end", func(t *testing.T) {
		a, b := h.verified("a"), h.verified("b")
		sa, sb := h.session(a.Email, a.Password), h.session(b.Email, b.Password)
		wantStatus(t, h.do(http.MethodPost, "/logout", sa.AccessToken, obj{"refresh_token": sb.RefreshToken}), http.StatusNoContent)
		h.wantTokenAlive(sb.AccessToken)
		wantStatus(t, h.refresh(sb.RefreshToken), http.StatusOK)
	})

	t.Run("null or unknown refresh token", func(t *testing.T) {
		for _, body := range []any{obj{"refresh_token": nil}, obj{"refresh_token": "garbage"}, obj{}} {
			a := h.verified("n")
			s := h.session(a.Email, a.Password)
			wantStatus(t, h.do(http.MethodPost, "/logout", s.AccessToken, body), http.StatusNoContent)
			h.wantTokenDead(s.AccessToken)
		}
	})

	t.Run("empty body", func(t *testing.T) {
		for _, body := range []any{nil, rawBody{"application/json", nil}, rawBody{"", []byte{}}} {
			a := h.verified("e")
			s := h.session(a.Email, a.Password)
			wantStatus(t, h.do(http.MethodPost, "/logout", s.AccessToken, body), http.StatusNoContent)
			h.wantTokenDead(s.AccessToken)
		}
	})

	// An empty body whose length is not announced (Transfer-Encoding:
	// chunked, an HTTP/2 DATA frame) is still no body. Found at ad4121f:
	// handleLogout skipped decoding only when r.ContentLength == 0 (an
	// unknown length is -1) and answered 422 "Field required".
	t.Run("empty body of unannounced length", func(t *testing.T) {
		a := h.verified("chunked")
		s := h.session(a.Email, a.Password)
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/logout", io.MultiReader())
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // sent chunked: one empty last chunk
		req.Header.Set("Authorization", "Bearer "+s.AccessToken)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Errorf("POST /logout, chunked empty body: status %d, want 204; body %s", res.StatusCode, body)
		}
	})

	t.Run("no or bad token", func(t *testing.T) {
		wantUnauthorized(t, h.do(http.MethodPost, "/logout", "", nil))
		wantUnauthorized(t, h.do(http.MethodPost, "/logout", "", obj{"refresh_token": "x"}))
		wantUnauthorized(t, h.do(http.MethodPost, "/logout", "not.a.jwt", nil))
	})

	t.Run("a refresh token is not a bearer token", func(t *testing.T) {
		a := h.verified("r")
		s := h.session(a.Email, a.Password)
		wantUnauthorized(t, h.do(http.MethodPost, "/logout", s.RefreshToken, nil))
		h.wantTokenAlive(s.AccessToken)
	})

	t.Run("malformed body", func(t *testing.T) {
		a := h.verified("m")
		s := h.session(a.Email, a.Password)
		wantValidation(t, h.do(http.MethodPost, "/logout", s.AccessToken, obj{"refresh_token": 5}), "body", "refresh_token")
		wantValidation(t, h.do(http.MethodPost, "/logout", s.AccessToken, obj{"all": true}), "body", "all")
		wantStatus(t, h.do(http.MethodPost, "/logout", s.AccessToken, rawBody{"text/plain", []byte("bye")}), http.StatusUnsupportedMediaType)
		h.wantTokenAlive(s.AccessToken) // a refused logout ends nothing
	})

	t.Run("recorded in the audit log", func(t *testing.T) {
		a := h.verified("audit")
		s := h.session(a.Email, a.Password)
		wantStatus(t, h.do(http.MethodPost, "/logout", s.AccessToken, nil), http.StatusNoContent)
		if p := h.audit(map[string][]string{"event": {"logout"}, "actor": {a.ID}}); len(p.Items) != 1 {
			t.Errorf("%d logout events by %s, want 1", len(p.Items), a.ID)
		}
	})
}
