package webhook

import (
	"errors"
	"testing"
	"time"
)

// TestControlChecksTheDialledAddress: the dialer's control function, which
// runs on the very address a socket connects to, refuses what
// domain.IsPublicAddress refuses, IPv4-mapped forms included, whatever
// resolved it.
func TestControlChecksTheDialledAddress(t *testing.T) {
	t.Parallel()
	strict := newGuard(false, nil, time.Second)
	lax := newGuard(true, nil, time.Second)
	for _, addr := range []string{
		"127.0.0.1:80", "[::1]:443", "10.0.0.1:443", "[::ffff:10.0.0.1]:443", "[::ffff:127.0.0.1]:80",
		"169.254.169.254:80", "100.64.1.1:443", "[fd00::1]:443", "0.0.0.0:80", "224.0.0.1:80", "[fe80::1%eth0]:80",
	} {
		if err := strict.control(t.Context(), "tcp", addr, nil); !errors.Is(err, ErrAddressRefused) {
			t.Errorf("control(%s) = %v, want ErrAddressRefused", addr, err)
		}
		if err := lax.control(t.Context(), "tcp", addr, nil); err != nil {
			t.Errorf("with private addresses allowed, control(%s) = %v", addr, err)
		}
	}
	for _, addr := range []string{"93.184.216.34:443", "[2606:4700:4700::1111]:443"} {
		if err := strict.control(t.Context(), "tcp", addr, nil); err != nil {
			t.Errorf("control(%s) = %v, want nil", addr, err)
		}
	}
	if err := strict.control(t.Context(), "tcp", "not-an-address", nil); !errors.Is(err, ErrAddressRefused) {
		t.Errorf("control of a name = %v, want ErrAddressRefused", err)
	}
}
