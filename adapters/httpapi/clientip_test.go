package httpapi_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/usersvc/usersvc/adapters/httpapi"
)

// The access log names the client as the trusted proxies report it.
func TestAccessLogHasClientIP(t *testing.T) {
	t.Parallel()
	logger, logs := newTestLogger()
	srv := httpapi.NewServer(logger, httpapi.UseCaseParts{}, httpapi.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	for _, tc := range []struct{ peer, xff string }{
		{"10.0.0.5:443", "198.51.100.23, 10.0.0.9"}, // through our proxies
		{"203.0.113.4:5000", "198.51.100.99"},       // direct, header forged
	} {
		req := newRequest(t, http.MethodGet, "/healthz", "", nil)
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-For", tc.xff)
		wantStatus(t, serve(srv, req), http.StatusOK)
	}
	var got []string
	for _, rec := range logs.JSONLines(t) {
		if rec["msg"] == "request" {
			ip, _ := rec["client_ip"].(string)
			got = append(got, ip)
		}
	}
	want := []string{"198.51.100.23", "203.0.113.4"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("client_ip in the access log = %q, want %q", got, want)
	}
}
