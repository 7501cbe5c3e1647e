package httpapi

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the edge's settings; cmd parses them from the environment
// (RATE_LIMITS, TRUSTED_PROXIES, CORS_ORIGINS) and passes plain values.
// The zero value is a server without limits, proxies or CORS: what tests want.
type Options struct {
	// RateLimits turns on the per-IP and per-account limits (ratelimit.go).
	RateLimits bool
	// SharedLimiter, when set, holds the limits' budgets for every
	// instance together; while it cannot be reached each instance counts
	// on its own. nil: per instance (one process on SQLite).
	SharedLimiter SharedLimiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (clientip.go). See ParseTrustedProxies.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins allowed to call the API
	// ("https://app.example.com"); "*" allows any origin, without
	// credentials (cors.go). See ParseCORSOrigins.
	CORSOrigins []string
	// Ready reports whether the service can serve, for /readyz; nil is
	// always ready.
	Ready ReadyFunc
	// PublicBaseURL, if set, is the base of the absolute links in answers
	// (scheme://host[:port]); otherwise they are built from the request.
	PublicBaseURL string
	// Metrics, if set, is the registry the server records its HTTP metrics
	// in and serves, with whatever else is registered there, at GET
	// /metrics (metrics.go); nil: no metrics, and /metrics is 404. Each
	// server takes its own registry, never the global default one.
	Metrics *prometheus.Registry
	// Webhooks, if set, are the use cases of the ADMIN's /webhooks routes
	// (webhooks.go); nil: those routes do not exist.
	Webhooks WebhookAdmin
	// TokenKeys, if set, are published at GET /.well-known/jwks.json with
	// the OAuth 2.0 authorization server metadata at GET
	// /.well-known/oauth-authorization-server (discovery.go); nil: both 404.
	TokenKeys TokenKeys
	// ProtectMetrics makes GET /metrics answer only requests that carry
	// "Authorization: Bearer " + MetricsToken (401 otherwise), and 404 when
	// MetricsToken is empty (production). Without it /metrics is open
	// (development).
	ProtectMetrics bool
	MetricsToken   string
	// SecureCookies makes the console's cookies Secure, with the __Host-
	// prefix: set it outside development (the console is then reached
	// over HTTPS only).
	SecureCookies bool
	// ConsoleKey keys the console's CSRF tokens (HMAC-SHA256). Every
	// instance behind one address needs the same key; empty: a random key
	// of this process.
	ConsoleKey []byte
}

// ParseTrustedProxies reads TRUSTED_PROXIES entries: CIDRs ("10.0.0.0/8",
// "fd00::/8") or bare addresses ("192.0.2.7", a /32 or /128). Every bad
// entry is reported.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	var bad []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%q", s))
				continue
			}
			// A v4-mapped v6 prefix (::ffff:10.0.0.0/104) is the v4 one:
			// clients' addresses are unmapped before they are matched.
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			bad = append(bad, fmt.Sprintf("%q", s))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("trusted proxies must be CIDRs or IP addresses: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// ParseCORSOrigins checks CORS_ORIGINS entries and returns them in the
// form browsers send in Origin (lower-case scheme and host, no default
// port, no trailing slash). An entry is "*" or scheme://host[:port] with
// scheme http or https and nothing else. NewServer normalises its
// Options.CORSOrigins the same way and ignores bad entries; calling this
// first lets cmd refuse them at start.
func ParseCORSOrigins(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	var bad []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		o, ok := normalizeOrigin(s)
		if !ok {
			bad = append(bad, fmt.Sprintf("%q", s))
			continue
		}
		out = append(out, o)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("CORS origins must be \"*\" or scheme://host[:port] such as https://app.example.com: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// normalizeOrigin returns s as a browser serialises an origin, or false.
func normalizeOrigin(s string) (string, bool) {
	if s == "*" {
		return s, true
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") || u.Host == "" || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
