package httpapi_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/httpapi"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := httpapi.ParseTrustedProxies([]string{
		"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "2001:db8::1", "172.16.5.4/12", "::ffff:10.0.0.0/104", "",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("ParseTrustedProxies (-want +got):\n%s", diff)
	}
	if got, err := httpapi.ParseTrustedProxies(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseTrustedProxies(nil) = %v, %v; want none", got, err)
	}
	_, err = httpapi.ParseTrustedProxies([]string{"10.0.0.0/33", "proxy.internal", "10.0.0.1", "fe80::1%eth0", "1.2.3"})
	if err == nil {
		t.Fatal("bad entries accepted")
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "fe80::1%eth0", "1.2.3"} {
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q does not name %q", err, bad)
		}
	}
	if strings.Contains(err.Error(), `"10.0.0.1"`) {
		t.Errorf("error %q names a good entry", err)
	}
}

func TestParseCORSOrigins(t *testing.T) {
	got, err := httpapi.ParseCORSOrigins([]string{
		"https://app.example.com", "HTTPS://App.Example.COM:443/", "http://localhost:3000", "http://[::1]:8080", "*", "",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com", "https://app.example.com", "http://localhost:3000", "http://[::1]:8080", "*"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCORSOrigins (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"app.example.com", "ftp://example.com", "https://example.com/app", "https://user@example.com", "https://example.com?x=1", "null", "https://"} {
		if _, err := httpapi.ParseCORSOrigins([]string{bad}); err == nil {
			t.Errorf("ParseCORSOrigins(%q) accepted", bad)
		}
	}
}
