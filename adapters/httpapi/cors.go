package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CORS answers, for the browser origins an operator listed (CORS_ORIGINS).
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-ID"
	corsExposeHeaders = "Retry-After, WWW-Authenticate, X-Request-ID"
	// corsMaxAge is how long a browser may reuse a preflight answer.
	corsMaxAge = 10 * time.Minute
)

// corsPolicy is the set of allowed origins.
type corsPolicy struct {
	origins map[string]bool // exact origins, allowed with credentials
	any     bool            // "*" was listed: any other origin, without credentials
}

// newCORSPolicy reads Options.CORSOrigins, normalised as browsers write
// Origin; bad entries are dropped (ParseCORSOrigins reports them). It is
// nil when no origin is allowed.
func newCORSPolicy(list []string) *corsPolicy {
	p := &corsPolicy{origins: make(map[string]bool, len(list))}
	for _, s := range list {
		o, ok := normalizeOrigin(strings.TrimSpace(s))
		switch {
		case !ok:
		case o == "*":
			p.any = true
		default:
			p.origins[o] = true
		}
	}
	if !p.any && len(p.origins) == 0 {
		return nil
	}
	return p
}

// withCORS wraps the router: gorilla/mux would answer a preflight OPTIONS
// with 405, so allowed preflights are answered here, 204. Origins not
// allowed get no CORS headers at all, and their preflights go on to the
// router like any OPTIONS request.
func withCORS(p *corsPolicy, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Caches must not hand one origin's answer to another.
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		origin := r.Header.Get("Origin")
		switch {
		case origin == "":
			next.ServeHTTP(w, r)
			return
		case p.origins[origin]:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		case p.any:
			// "*" with credentials is refused by browsers and would let
			// any site act as the user: a wildcard means no credentials.
			h.Set("Access-Control-Allow-Origin", "*")
		default:
			next.ServeHTTP(w, r)
			return
		}
		if !preflight {
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(corsMaxAge.Seconds())))
		w.WriteHeader(http.StatusNoContent)
	})
}
