package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/httpapi"
)

// corsServer is the API with only CORS configured; /healthz needs no use case.
func corsServer(origins ...string) http.Handler {
	logger, _ := newTestLogger()
	return httpapi.NewServer(logger, httpapi.UseCaseParts{}, httpapi.Options{CORSOrigins: origins})
}

func corsRequest(method, origin string, preflight bool) *http.Request {
	req := httptest.NewRequest(method, "/healthz", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if preflight {
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	}
	return req
}

func wantVaryOrigin(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !slices.Contains(strings.Split(strings.Join(rec.Header().Values("Vary"), ","), ","), "Origin") {
		t.Errorf("Vary = %q, want Origin", rec.Header().Values("Vary"))
	}
}

func TestCORSAllowedOrigin(t *testing.T) {
	t.Parallel()
	srv := corsServer("https://app.example.com", "http://localhost:3000")
	rec := serve(srv, corsRequest(http.MethodGet, "https://app.example.com", false))
	wantStatus(t, rec, http.StatusOK)
	h := rec.Header()
	if got := h.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q, want the origin", got)
	}
	if got := h.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
	}
	if got := h.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Retry-After") || !strings.Contains(got, "X-Request-ID") {
		t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After and X-Request-ID", got)
	}
	wantVaryOrigin(t, rec)
}

func TestCORSDeniedOrigin(t *testing.T) {
	t.Parallel()
	srv := corsServer("https://app.example.com")
	for _, origin := range []string{
		"https://evil.example.com",
		"http://app.example.com",       // another scheme
		"https://app.example.com:8443", // another port
		"https://app.example.com.evil.com",
		"null",
	} {
		rec := serve(srv, corsRequest(http.MethodGet, origin, false))
		wantStatus(t, rec, http.StatusOK)
		for name := range rec.Header() {
			if strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("origin %s: %s = %q, want no CORS headers", origin, name, rec.Header().Get(name))
			}
		}
		wantVaryOrigin(t, rec)
		// Its preflight is not answered as one either.
		rec = serve(srv, corsRequest(http.MethodOptions, origin, true))
		if rec.Code == http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %s: preflight answered %d with Allow-Origin %q", origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	srv := corsServer("https://app.example.com")
	for _, path := range []string{"/healthz", "/login/", "/users/me", "/users/0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"} {
		req := corsRequest(http.MethodOptions, "https://app.example.com", true)
		req.URL.Path = path
		rec := serve(srv, req)
		wantStatus(t, rec, http.StatusNoContent)
		h := rec.Header()
		if got := h.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
			t.Errorf("%s: Access-Control-Allow-Origin = %q", path, got)
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("%s: Access-Control-Allow-Methods = %q, want %s", path, h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, hd := range []string{"Authorization", "Content-Type"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), hd) {
				t.Errorf("%s: Access-Control-Allow-Headers = %q, want %s", path, h.Get("Access-Control-Allow-Headers"), hd)
			}
		}
		if h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("%s: no Access-Control-Max-Age", path)
		}
		if h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials = %q, want true", path, h.Get("Access-Control-Allow-Credentials"))
		}
		wantVaryOrigin(t, rec)
		if rec.Body.Len() != 0 {
			t.Errorf("%s: preflight has a body: %s", path, rec.Body)
		}
	}
	// An OPTIONS that is not a preflight still gets the router's 405.
	rec := serve(srv, corsRequest(http.MethodOptions, "https://app.example.com", false))
	wantStatus(t, rec, http.StatusMethodNotAllowed)
}

func TestCORSWildcardHasNoCredentials(t *testing.T) {
	t.Parallel()
	srv := corsServer("*", "https://app.example.com")
	rec := serve(srv, corsRequest(http.MethodGet, "https://anyone.example.org", false))
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
	if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q with a wildcard, want none", got)
	}
	rec = serve(srv, corsRequest(http.MethodOptions, "https://anyone.example.org", true))
	wantStatus(t, rec, http.StatusNoContent)
	if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Error("a wildcard preflight allows credentials")
	}
	// An origin listed by name keeps its credentials.
	rec = serve(srv, corsRequest(http.MethodGet, "https://app.example.com", false))
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" || rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("listed origin beside *: Allow-Origin %q, Allow-Credentials %q",
			rec.Header().Get("Access-Control-Allow-Origin"), rec.Header().Get("Access-Control-Allow-Credentials"))
	}
}

func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	srv := corsServer()
	rec := serve(srv, corsRequest(http.MethodGet, "https://app.example.com", false))
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("Access-Control-Allow-Origin = %q with no CORS_ORIGINS", got)
	}
	rec = serve(srv, corsRequest(http.MethodOptions, "https://app.example.com", true))
	wantStatus(t, rec, http.StatusMethodNotAllowed)
}
