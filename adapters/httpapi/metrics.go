package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	// github.com/prometheus/client_golang is the Prometheus project's own Go
	// client: the standard, well-kept library for exposing metrics (used by
	// Kubernetes, etcd and Prometheus itself). Its text format is what every
	// scraper reads, and promhttp serves a registry without hand-written
	// encoding.
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The edge's metrics. Every label value comes from a small fixed set (the
// route template, never the raw path, which may hold a user id or a token;
// the method folded to the standard ones; the status code), so a client
// cannot grow the number of series, and no email, token or user id can
// appear in them. Counts that matter for security are derived here from
// statuses, without touching the use cases.
const (
	metricRequests    = "usersvc_http_requests_total"
	metricDuration    = "usersvc_http_request_duration_seconds"
	metricInFlight    = "usersvc_http_requests_in_flight"
	metricLogins      = "usersvc_logins_total"
	metricRateLimited = "usersvc_rate_limited_total"
)

// The outcomes of POST /login and of its second step, POST /login/mfa,
// from their status (PRODUCT.md sections 3 and 8.1).
const (
	loginSuccess     = "success"      // 200
	loginFailure     = "failure"      // 401: wrong email or password, or unverified
	loginLocked      = "locked"       // 400: the account is locked (or, rarely, an unreadable body)
	loginRateLimited = "rate_limited" // 429
	loginUnavailable = "unavailable"  // 503: hashing shed the load, or the database is down
	loginInvalid     = "invalid"      // 413, 415, 422: a malformed request
	loginError       = "error"        // anything else (500, a client gone away)
	// 403 from /login: the password was right and a second factor is on;
	// the login ends at /login/mfa, counted there.
	loginSecondFactor = "second_factor"
)

var loginOutcomes = []string{loginSuccess, loginFailure, loginLocked, loginRateLimited, loginUnavailable, loginInvalid, loginError, loginSecondFactor}

// routeLimits names the rate-limit bucket whose 429 each route answers
// (routes.go), for usersvc_rate_limited_total.
var routeLimits = map[string]string{
	"/login":                  limitLogin,
	"/register":               limitRegister,
	"/password-reset/request": limitResetRequest,
	"/verify-email/resend":    limitResendVerification,
	"/password-reset/confirm": limitResetConfirm,
	"/password-reset":         limitResetConfirm,
	"/token/refresh":          limitRefresh,
	"/unlock":                 limitUnlock,
	"/login/mfa":              limitLoginMFA,
	"/users/me/email":         limitEmailChange,
	"/email-change/confirm":   limitEmailConfirm,
	"/invitations/accept":     limitInvitationAccept,
}

// durationBuckets are Prometheus's defaults, plus the request deadline.
var durationBuckets = slices.Concat(prometheus.DefBuckets, []float64{requestDeadline.Seconds()})

// httpMetrics are the edge's collectors; a nil *httpMetrics records nothing.
type httpMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	logins      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	scrape      http.Handler
}

// newHTTPMetrics registers the edge's collectors on reg and serves reg for
// GET /metrics; with a nil reg there are no metrics. Servers sharing one
// registry share the collectors. It panics when reg holds a different
// collector under one of these names: a wiring mistake.
func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	if reg == nil {
		return nil
	}
	m := &httpMetrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests,
			Help: "HTTP requests answered, by method, route template (\"unmatched\" for unknown paths) and status.",
		}, []string{"method", "route", "status"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricDuration,
			Help:    "Time to answer an HTTP request, by method and route template.",
			Buckets: durationBuckets,
		}, []string{"method", "route"})),
		inFlight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricInFlight,
			Help: "HTTP requests being answered.",
		})),
		logins: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricLogins,
			Help: "POST /login answers by outcome: success, failure (401), locked (400), rate_limited (429), " +
				"unavailable (503), invalid (malformed) or error. Refresh grants sent to /login count too. " +
				"second_factor (403) is a right password awaiting its code; POST /login/mfa answers count as the rest.",
		}, []string{"outcome"})),
		rateLimited: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRateLimited,
			Help: "Requests refused with 429 by a rate limit, by bucket.",
		}, []string{"bucket"})),
		scrape: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	// Every series exists from the start, so rates and alerts see a zero
	// rather than nothing.
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for b := range limitTable {
		m.rateLimited.WithLabelValues(b)
	}
	return m
}

// register registers c on reg, or returns the collector of the same
// description already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("httpapi: register metrics: %v", err))
}

// instrument counts and times every request by its route template. It runs
// inside accessLog, which records the matched route (nameRoute) where
// routeName finds it; on its own it records the route itself.
func instrument(m *httpMetrics, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		if _, ok := r.Context().Value(routeKey).(*routeHolder); !ok {
			r = r.WithContext(context.WithValue(r.Context(), routeKey, &routeHolder{}))
		}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		method, route := methodLabel(r.Method), routeName(r)
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		if (route == "/login" || route == "/login/mfa") && r.Method == http.MethodPost {
			m.logins.WithLabelValues(loginOutcome(status)).Inc()
		}
		if status == http.StatusTooManyRequests {
			bucket, ok := routeLimits[route]
			if !ok {
				bucket = "other"
			}
			m.rateLimited.WithLabelValues(bucket).Inc()
		}
	})
}

// methodLabel folds a method into a fixed set: a client may send any token.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// loginOutcome names a POST /login answer by its status.
func loginOutcome(status int) string {
	switch status {
	case http.StatusOK:
		return loginSuccess
	case http.StatusUnauthorized:
		return loginFailure
	case http.StatusBadRequest:
		return loginLocked
	case http.StatusForbidden:
		return loginSecondFactor
	case http.StatusTooManyRequests:
		return loginRateLimited
	case http.StatusServiceUnavailable:
		return loginUnavailable
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return loginInvalid
	}
	return loginError
}

// handleMetrics serves the registry in Prometheus's text format, or 404
// when the server has no metrics. The metrics hold no email, token or user
// id, but they tell an outsider about traffic and failures (an attacker
// could watch a lockout campaign), so when protect is set (production) only
// a scraper with "Authorization: Bearer <token>" gets them: 401 otherwise,
// and 404 when no token is configured. Unprotected (development), anyone
// on the port may read them.
func handleMetrics(m *httpMetrics, protect bool, token string) http.Handler {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
	if m == nil || (protect && token == "") {
		return notFound
	}
	if !protect {
		return m.scrape
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		// Digests of equal length, compared in constant time: neither the
		// token's content nor its length leaks through the timing.
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeDetail(w, http.StatusUnauthorized, "Not authenticated")
			return
		}
		m.scrape.ServeHTTP(w, r)
	})
}
