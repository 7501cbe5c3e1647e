package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	routeKey
	baseURLKey
)

// routeHolder carries the matched route's name out of the router, to the
// access log that wraps it.
type routeHolder struct{ name string }

// nameRoute is router middleware that records the matched route.
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(routeKey).(*routeHolder); ok {
			if route := mux.CurrentRoute(r); route != nil {
				h.name = route.GetName()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// validRequestID accepts a caller's X-Request-ID only when it is short and
// plain, so it can be logged safely.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives every request an id, echoed in X-Request-ID.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// accessLog logs one line per request. It logs the route template, never
// the raw path: paths such as /verify-email/{user_id}/{token} hold secrets.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), routeKey, &routeHolder{}))
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("route", routeName(r)),
			slog.String("client_ip", clientIP(r)),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
	})
}

// routeName is the matched route's template, or "unmatched".
func routeName(r *http.Request) string {
	if route := mux.CurrentRoute(r); route != nil {
		if name := route.GetName(); name != "" {
			return name
		}
	}
	if h, ok := r.Context().Value(routeKey).(*routeHolder); ok && h.name != "" {
		return h.name
	}
	return "unmatched"
}

// recoverPanics turns a panic into a logged 500 with the request id.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				id := requestID(r.Context())
				log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, problem{Detail: detailInternal, RequestID: id})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestDeadline bounds the work of one request, so a stalled database
// yields a 503 instead of a request that hangs until the client gives up.
const requestDeadline = 20 * time.Second

// withDeadline gives every request a context deadline.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// securityHeaders are set on every answer: it is an API, never a page to frame or sniff.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// pathVars are the route's variables.
func pathVars(r *http.Request) map[string]string { return mux.Vars(r) }

// withBaseURL makes base, when set, the base of every link in the answers.
func withBaseURL(base string, next http.Handler) http.Handler {
	if base == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), baseURLKey, base)))
	})
}

// baseURL is the base of HATEOAS links: the configured public URL, else
// scheme://host of the request, as the seed built them.
func baseURL(r *http.Request) string {
	if base, ok := r.Context().Value(baseURLKey).(string); ok {
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
