// Package httpapi is the HTTP edge of usersvc: the seed's REST API on
// gorilla/mux, with one place that maps domain errors to statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
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
	roleChanger
	meReader
	meUpdater
}

// ReadyFunc reports whether the service can serve (its database answers).
type ReadyFunc func(ctx context.Context) error

type deps struct {
	log   *slog.Logger
	uc    UseCases
	ready ReadyFunc
}

// NewServer returns the API handler.
func NewServer(log *slog.Logger, uc UseCases, ready ReadyFunc) http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	})
	r.Use(nameRoute)
	addRoutes(r, deps{log: log, uc: uc, ready: ready})
	var h http.Handler = r
	h = securityHeaders(h)
	h = accessLog(log, h)
	h = recoverPanics(log, h)
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
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
