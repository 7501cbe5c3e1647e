package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolveClientIP(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("fd00::/8"),
	}
	for _, tc := range []struct {
		name   string
		peer   string
		xff    []string
		want   string
		wantIP bool // the result parsed as an address
	}{
		{"untrusted peer, no header", "198.51.100.1:1234", nil, "198.51.100.1", true},
		{"untrusted peer, spoofed header", "198.51.100.1:1234", []string{"203.0.113.9"}, "198.51.100.1", true},
		{"untrusted peer, header names a trusted proxy", "198.51.100.1:1234", []string{"203.0.113.9, 10.0.0.1"}, "198.51.100.1", true},
		{"trusted peer, one client", "10.0.0.1:80", []string{"203.0.113.9"}, "203.0.113.9", true},
		{"trusted peer, forged left part", "10.0.0.1:80", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9", true},
		{"trusted peer, chain of proxies", "10.0.0.1:80", []string{"1.1.1.1, 203.0.113.9, 192.0.2.7, 10.2.3.4"}, "203.0.113.9", true},
		{"trusted peer, several header lines", "10.0.0.1:80", []string{"1.1.1.1, 203.0.113.9", "10.2.3.4"}, "203.0.113.9", true},
		{"trusted peer, no header", "10.0.0.1:80", nil, "10.0.0.1", true},
		{"trusted peer, empty header", "10.0.0.1:80", []string{""}, "10.0.0.1", true},
		{"trusted peer, only proxies", "10.0.0.1:80", []string{"10.9.9.9, 10.0.0.2"}, "10.9.9.9", true},
		{"trusted peer, malformed last entry", "10.0.0.1:80", []string{"203.0.113.9, garbage"}, "10.0.0.1", true},
		{"trusted peer, malformed behind a proxy", "10.0.0.1:80", []string{"203.0.113.9, unknown, 10.2.3.4"}, "10.2.3.4", true},
		{"trusted peer, entry with a port", "10.0.0.1:80", []string{"203.0.113.9:4711"}, "203.0.113.9", true},
		{"trusted peer, IPv6 entry with a port", "10.0.0.1:80", []string{"[2001:db8::9]:4711"}, "2001:db8::9", true},
		{"trusted peer, bracketed IPv6 entry", "10.0.0.1:80", []string{"[2001:db8::9]"}, "2001:db8::9", true},
		{"trusted peer, spaces", "10.0.0.1:80", []string{"  203.0.113.9  ,10.0.0.3 "}, "203.0.113.9", true},
		{"trusted IPv6 peer", "[fd00::1]:443", []string{"2001:db8::1"}, "2001:db8::1", true},
		{"v4-mapped peer is the v4 address", "[::ffff:10.0.0.1]:80", []string{"203.0.113.9"}, "203.0.113.9", true},
		{"v4-mapped entry is unmapped", "10.0.0.1:80", []string{"::ffff:203.0.113.9"}, "203.0.113.9", true},
		{"zone is dropped", "[fe80::1%eth0]:80", nil, "fe80::1", true},
		{"bare address peer", "198.51.100.1", nil, "198.51.100.1", true},
		{"not an IP peer", "@", nil, "@", false},
		{"empty peer", "", []string{"203.0.113.9"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolveClientIP(tc.peer, tc.xff, trusted)
			if got.text != tc.want || got.addr.IsValid() != tc.wantIP {
				t.Errorf("resolveClientIP(%q, %q) = %q (valid %v), want %q (valid %v)",
					tc.peer, tc.xff, got.text, got.addr.IsValid(), tc.want, tc.wantIP)
			}
		})
	}
}

func TestNoTrustedProxiesIgnoresForwardedFor(t *testing.T) {
	got := resolveClientIP("10.0.0.1:80", []string{"203.0.113.9"}, nil)
	if got.text != "10.0.0.1" {
		t.Errorf("client = %q, want the peer: no proxy is trusted by default", got.text)
	}
}

func TestClientIPInContext(t *testing.T) {
	var fromReq, fromCtx string
	h := withClientIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			fromReq, fromCtx = clientIP(r), ClientIP(r.Context())
		}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.1.1.1:999"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if fromReq != "203.0.113.9" || fromCtx != "203.0.113.9" {
		t.Errorf("clientIP = %q, ClientIP = %q; want 203.0.113.9", fromReq, fromCtx)
	}
	if got := ClientIP(context.Background()); got != "" {
		t.Errorf("ClientIP outside a request = %q, want empty", got)
	}
	// Without the middleware, the peer.
	bare := httptest.NewRequest(http.MethodGet, "/", nil)
	bare.RemoteAddr = "198.51.100.4:1"
	if got := clientIP(bare); got != "198.51.100.4" {
		t.Errorf("clientIP without middleware = %q, want the peer", got)
	}
}
