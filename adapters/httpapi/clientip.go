package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/usersvc/usersvc/app"
)

// clientIPKey holds the client's address (a *clientAddr) in a request's context.
type clientIPKey struct{}

// clientAddr is where a request came from.
type clientAddr struct {
	addr netip.Addr // invalid when the peer is not an IP (a Unix socket)
	text string
}

// withClientIP works out the client's address once, early, for the rate
// limits, the access log and the audit trail (app.WithClientIP); the user
// agent goes with it, for the sessions a login opens.
func withClientIP(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ca := resolveClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
		ctx := context.WithValue(r.Context(), clientIPKey{}, ca)
		ctx = app.WithUserAgent(app.WithClientIP(ctx, ca.text), r.UserAgent())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientIP is the client's address as NewServer resolved it (see
// Options.TrustedProxies), or "" outside a request it served. It is
// request metadata for logs and audit records, never proof of identity.
func ClientIP(ctx context.Context) string {
	if ca, ok := ctx.Value(clientIPKey{}).(*clientAddr); ok {
		return ca.text
	}
	return ""
}

// clientIP is the client's address; without the middleware (a handler
// tested alone) it is the peer's.
func clientIP(r *http.Request) string { return clientOf(r).text }

func clientOf(r *http.Request) *clientAddr {
	if ca, ok := r.Context().Value(clientIPKey{}).(*clientAddr); ok {
		return ca
	}
	return resolveClientIP(r.RemoteAddr, nil, nil)
}

// resolveClientIP is the peer's address unless the peer is a trusted proxy.
// Then X-Forwarded-For is read from the right, the end the proxies append
// to: each trusted proxy is stepped over, and the first address that is
// not trusted is the client. Everything to its left was written by the
// client and may be forged. A malformed entry stops the walk at the last
// good address; a list of nothing but trusted proxies yields its leftmost.
func resolveClientIP(remoteAddr string, xff []string, trusted []netip.Prefix) *clientAddr {
	peer, ok := parsePeer(remoteAddr)
	if !ok {
		return &clientAddr{text: remoteAddr}
	}
	client := peer
	if isTrusted(client, trusted) {
	walk:
		for _, hdr := range slices.Backward(xff) {
			entries := strings.Split(hdr, ",")
			for _, e := range slices.Backward(entries) {
				a, ok := parseForwarded(e)
				if !ok {
					break walk
				}
				client = a
				if !isTrusted(a, trusted) {
					break walk
				}
			}
		}
	}
	return &clientAddr{addr: client, text: client.String()}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parsePeer reads http.Request.RemoteAddr ("ip:port", or a bare ip).
func parsePeer(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return normalizeAddr(a), true
}

// parseForwarded reads one X-Forwarded-For entry: an address, which some
// proxies write with a port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseForwarded(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr()), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return normalizeAddr(a), true
		}
	}
	return netip.Addr{}, false
}

// normalizeAddr drops what would make one client look like two: the IPv6
// zone and the v4-in-v6 mapping.
func normalizeAddr(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }
