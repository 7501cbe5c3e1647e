// Package httpapi is the HTTP edge of usersvc: the seed's REST API on
// gorilla/mux, with one place that maps domain errors to statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// UseCases is every use case the API calls; each handler declares the few
// it needs.
type UseCases interface {
	authenticator
	registerer
	loginer
	emailVerifier
	userGetter
	userCreator
	userUpdater
	userDeleter
	userLister
	professionalUpgrader
	unlocker
	locker
	tokenUnlocker
	roleChanger
	meReader
	meUpdater
	loggerOut
	recoverer
	passwordChanger
	auditReader
	secondFactorManager
	secondFactorResetter
	secondFactorLoginer
	sessionManager
	emailChanger
	inviter
	dashboarder
}

// dashboarder gives the console's dashboard its counts.
type dashboarder interface {
	Dashboard(ctx context.Context, actor domain.Actor) (app.Dashboard, error)
}

// ReadyFunc reports whether the service can serve (its database answers).
type ReadyFunc func(ctx context.Context) error

type deps struct {
	log   *slog.Logger
	uc    UseCases
	ready ReadyFunc
	lim   *limits // rate limits (ratelimit.go); allow everything unless Options.RateLimits
	// met records the HTTP metrics (metrics.go); nil without Options.Metrics.
	met *httpMetrics
	// keys are published by the discovery routes; nil without Options.TokenKeys.
	keys TokenKeys
	// hooks serve the /webhooks routes; nil without Options.Webhooks.
	hooks WebhookAdmin
	// protectMetrics and metricsToken guard /metrics (Options.ProtectMetrics).
	protectMetrics bool
	metricsToken   string
}

// NewServer returns the API handler.
func NewServer(log *slog.Logger, uc UseCases, opts Options) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req), ", "))
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	})
	r.Use(nameRoute)
	met := newHTTPMetrics(opts.Metrics)
	lim := newLimits(opts, log)
	addRoutes(r, deps{log: log, uc: uc, ready: opts.Ready, lim: lim, met: met, keys: opts.TokenKeys,
		protectMetrics: opts.ProtectMetrics, metricsToken: opts.MetricsToken, hooks: opts.Webhooks})
	addConsoleRoutes(r, newConsole(consoleDeps{log: log, uc: uc, lim: lim, secure: opts.SecureCookies, key: opts.ConsoleKey, hooks: opts.Webhooks}))
	var h http.Handler = r
	h = withDeadline(requestDeadline, h)
	h = withBaseURL(strings.TrimRight(opts.PublicBaseURL, "/"), h)
	h = withCORS(newCORSPolicy(opts.CORSOrigins), h)
	h = securityHeaders(h)
	h = recoverPanics(log, h)
	h = instrument(met, h)
	h = accessLog(log, h)
	h = withClientIP(opts.TrustedProxies, h)
	h = withRequestID(h)
	return h
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReady(log *slog.Logger, ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				log.WarnContext(r.Context(), "not ready", "error", err)
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// allowedMethods lists the methods the request's path answers, for the
// Allow header a 405 must carry (RFC 9110).
func allowedMethods(r *mux.Router, req *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if r.Match(probe, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return out
}
