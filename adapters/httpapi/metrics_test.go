package httpapi_test

import (
	"crypto/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/httpapi"
)

// scrape GETs /metrics and returns the text exposition.
func scrape(tb testing.TB, srv http.Handler) string {
	tb.Helper()
	rec := serve(srv, newRequest(tb, http.MethodGet, "/metrics", "", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		tb.Errorf("GET /metrics: Content-Type %q, want Prometheus's text format", ct)
	}
	return rec.Body.String()
}

// sample is the value of the series name{labels} in a text exposition, and
// whether it is there. labels are "k=v" pairs.
func sample(body, name string, labels ...string) (float64, bool) {
	series := name
	if len(labels) > 0 {
		// The format sorts labels by name, except a bucket's le, which is last.
		sorted := slices.SortedFunc(slices.Values(labels), func(a, b string) int {
			if aLe, bLe := strings.HasPrefix(a, "le="), strings.HasPrefix(b, "le="); aLe != bLe {
				if aLe {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
		quoted := make([]string, 0, len(labels))
		for _, kv := range sorted {
			k, v, _ := strings.Cut(kv, "=")
			quoted = append(quoted, k+"="+strconv.Quote(v))
		}
		series += "{" + strings.Join(quoted, ",") + "}"
	}
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// wantSample checks the value of a series.
func wantSample(tb testing.TB, body string, want float64, name string, labels ...string) {
	tb.Helper()
	got, ok := sample(body, name, labels...)
	if !ok {
		tb.Errorf("no series %s%v in /metrics", name, labels)
		return
	}
	if got != want {
		tb.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// seriesOf returns the lines of the series of metric name.
func seriesOf(body, name string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			out = append(out, line)
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry()})

	email := h.email("metrics")
	rec := h.do(http.MethodPost, "/register/", "", obj{"email": email, "password": testPassword})
	wantStatus(t, rec, http.StatusOK)
	var registered struct {
		ID string `json:"id"`
	}
	decodeBody(t, rec, &registered)
	wantStatus(t, h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {wrongPassword}}),
		http.StatusUnauthorized)
	verifyPath := h.verificationPath(email) // holds the real token
	wantStatus(t, h.do(http.MethodGet, verifyPath, "", nil), http.StatusOK)
	token := h.login(email, testPassword)
	// A token-like path on a route, and one that matches none.
	secretPath := "/verify-email/" + uuid.NewString() + "/SECRETTOKEN"
	wantStatus(t, h.do(http.MethodGet, secretPath, "", nil), http.StatusBadRequest)
	wantStatus(t, h.do(http.MethodGet, secretPath+"/more", "", nil), http.StatusNotFound)
	wantStatus(t, h.do(http.MethodGet, "/users/me", token, nil), http.StatusOK)

	body := scrape(t, h.srv)

	req := "usersvc_http_requests_total"
	wantSample(t, body, 1, req, "method=POST", "route=/register", "status=200")
	wantSample(t, body, 1, req, "method=POST", "route=/login", "status=401")
	wantSample(t, body, 1, req, "method=POST", "route=/login", "status=200")
	wantSample(t, body, 1, req, "method=GET", "route=/verify-email/{user_id}/{token}", "status=200")
	wantSample(t, body, 1, req, "method=GET", "route=/verify-email/{user_id}/{token}", "status=400")
	wantSample(t, body, 1, req, "method=GET", "route=unmatched", "status=404")
	wantSample(t, body, 1, req, "method=GET", "route=/users/me", "status=200")
	dur := "usersvc_http_request_duration_seconds"
	wantSample(t, body, 2, dur+"_count", "method=POST", "route=/login")
	wantSample(t, body, 2, dur+"_count", "method=GET", "route=/verify-email/{user_id}/{token}")
	wantSample(t, body, 1, dur+"_bucket", "method=POST", "route=/register", "le=+Inf")
	wantSample(t, body, 1, "usersvc_http_requests_in_flight") // the scrape itself

	logins := "usersvc_logins_total"
	wantSample(t, body, 1, logins, "outcome=success")
	wantSample(t, body, 1, logins, "outcome=failure")
	for _, o := range []string{"locked", "rate_limited", "unavailable", "invalid", "error"} {
		wantSample(t, body, 0, logins, "outcome="+o)
	}
	wantSample(t, body, 0, "usersvc_rate_limited_total", "bucket=login")

	// Nothing a request carried reaches the metrics.
	_, realToken, _ := strings.Cut(strings.TrimPrefix(verifyPath, "/verify-email/"), "/")
	for what, secret := range map[string]string{
		"the secret path": "SECRETTOKEN", "an email": email, "the email's domain": "example.com",
		"the user id": registered.ID, "the verification token": realToken, "the access token": token,
	} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows %s (%q)", what, secret)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}

	// The scrape of the scrape is counted on its own route.
	wantSample(t, scrape(t, h.srv), 1, req, "method=GET", "route=/metrics", "status=200")
}

// TestMetricsCardinalityBounded: unknown paths and odd methods, however
// many, fold into one series each.
func TestMetricsCardinalityBounded(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry()})
	before := seriesOf(scrape(t, h.srv), "usersvc_http_requests_total")
	for i := range 100 {
		h.do(http.MethodGet, "/"+rand.Text()+"/"+uuid.NewString()+"/"+rand.Text(), "", nil)
		method := "X" + strconv.Itoa(i) // a token, so a valid method nobody routes
		h.do(method, "/"+rand.Text(), "", nil)
	}
	body := scrape(t, h.srv)
	wantSample(t, body, 100, "usersvc_http_requests_total", "method=GET", "route=unmatched", "status=404")
	wantSample(t, body, 100, "usersvc_http_requests_total", "method=other", "route=unmatched", "status=404")
	after := seriesOf(body, "usersvc_http_requests_total")
	// Two for the unknown paths, one for the first scrape.
	if len(after) != len(before)+3 {
		t.Errorf("%d series after 200 requests to unknown paths, %d before; want 3 more:\n%s",
			len(after), len(before), strings.Join(after, "\n"))
	}
	if n := len(seriesOf(body, "usersvc_http_request_duration_seconds_count")); n != 3 {
		t.Errorf("%d duration series, want 3 (GET and other unmatched, GET /metrics)", n)
	}
}

// TestMetricsLoginOutcomes: a locked account and the rate limit are
// counted from /login's status, the rate limit also by bucket.
func TestMetricsLoginOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry(), RateLimits: true})
	a := h.verified("locked")
	h.lockByHTTP(a.Email) // three failures, then the right password refused
	// The per-account login limit (30 a minute) counts every attempt.
	limited := 0
	for range 40 {
		if h.do(http.MethodPost, "/login/", "", form{"username": {"nobody@example.com"}, "password": {wrongPassword}}).Code ==
			http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("40 logins to one account in a row were never rate-limited")
	}
	wantStatus(t, h.do(http.MethodPost, "/login/", "", obj{"username": 42}), http.StatusUnprocessableEntity)

	body := scrape(t, h.srv)
	logins := "usersvc_logins_total"
	wantSample(t, body, float64(maxAttempts+40-limited), logins, "outcome=failure")
	wantSample(t, body, 1, logins, "outcome=locked")
	wantSample(t, body, float64(limited), logins, "outcome=rate_limited")
	wantSample(t, body, 1, logins, "outcome=invalid")
	wantSample(t, body, 0, logins, "outcome=success")
	wantSample(t, body, float64(limited), "usersvc_rate_limited_total", "bucket=login")
	wantSample(t, body, 0, "usersvc_rate_limited_total", "bucket=register")
	wantSample(t, body, float64(limited), "usersvc_http_requests_total", "method=POST", "route=/login", "status=429")
}

// TestMetricsRateLimitedRoutes: the routes whose 429s are counted by
// bucket (metrics.go's routeLimits) are route templates the router knows.
func TestMetricsRateLimitedRoutes(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry()})
	routes := []string{"/login", "/register", "/password-reset/request", "/verify-email/resend",
		"/password-reset/confirm", "/password-reset", "/token/refresh"}
	for _, route := range routes {
		h.do(http.MethodPost, route, "", obj{})
	}
	body := scrape(t, h.srv)
	for _, route := range routes {
		if _, ok := sample(body, "usersvc_http_request_duration_seconds_count", "method=POST", "route="+route); !ok {
			t.Errorf("POST %s is not counted under its own route", route)
		}
	}
}

// TestMetricsOff: without a registry there is no /metrics, and nothing is
// recorded.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	wantDetail(t, h.do(http.MethodGet, "/metrics", "", nil), http.StatusNotFound, "Not Found")
}

// TestMetricsSharedRegistry: servers built on one registry share its
// collectors instead of failing to register them twice.
func TestMetricsSharedRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := newHarnessWith(t, httpapi.Options{Metrics: reg})
	b := newHarnessWith(t, httpapi.Options{Metrics: reg})
	wantStatus(t, a.do(http.MethodGet, "/healthz", "", nil), http.StatusOK)
	wantStatus(t, b.do(http.MethodGet, "/healthz", "", nil), http.StatusOK)
	wantSample(t, scrape(t, a.srv), 2, "usersvc_http_requests_total", "method=GET", "route=/healthz", "status=200")
}

// TestMetricsProtected: in production (ProtectMetrics) /metrics answers
// only the bearer of MetricsToken, 401 anyone else, and 404 when no token
// is configured; in development it is open.
func TestMetricsProtected(t *testing.T) {
	t.Parallel()
	const token = "a-metrics-token-of-some-length"
	get := func(srv http.Handler, auth string) int {
		req := newRequest(t, http.MethodGet, "/metrics", "", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := serve(srv, req)
		if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Error("a 401 from /metrics without WWW-Authenticate")
		}
		return rec.Code
	}
	protected := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry(), ProtectMetrics: true, MetricsToken: token}).srv
	for auth, want := range map[string]int{
		"":                      http.StatusUnauthorized,
		"Bearer " + token:       http.StatusOK,
		"bearer " + token:       http.StatusOK,
		"Bearer " + token + "x": http.StatusUnauthorized,
		"Bearer " + token[:10]:  http.StatusUnauthorized,
		"Basic " + token:        http.StatusUnauthorized,
		token:                   http.StatusUnauthorized,
		"Bearer " + rand.Text(): http.StatusUnauthorized,
	} {
		if got := get(protected, auth); got != want {
			t.Errorf("protected /metrics with Authorization %q: %d, want %d", auth, got, want)
		}
	}
	noToken := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry(), ProtectMetrics: true}).srv
	for _, auth := range []string{"", "Bearer ", "Bearer anything"} {
		if got := get(noToken, auth); got != http.StatusNotFound {
			t.Errorf("protected /metrics without a token, Authorization %q: %d, want 404", auth, got)
		}
	}
	open := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry(), MetricsToken: token}).srv
	if got := get(open, ""); got != http.StatusOK {
		t.Errorf("development /metrics: %d, want 200 (open)", got)
	}
}
