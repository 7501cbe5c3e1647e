package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// ErrAddressRefused: a connection would have reached an address that is
// not public (loopback, private, link-local, …) while private addresses
// are not allowed.
var ErrAddressRefused = errors.New("webhook: the address is not public")

// guard dials webhook connections. It resolves the host itself and
// refuses non-public addresses before dialling; the dialer's control
// function checks again the very address the socket connects to, so no
// resolution (a second, rebinding answer included) can lead elsewhere.
type guard struct {
	allowPrivate bool
	resolver     ports.Resolver
	dialer       *net.Dialer
}

func newGuard(allowPrivate bool, resolver ports.Resolver, timeout time.Duration) *guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	g := &guard{allowPrivate: allowPrivate, resolver: resolver}
	g.dialer = &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, ControlContext: g.control}
	return g
}

// allowed reports whether a connection may reach a.
func (g *guard) allowed(a netip.Addr) bool { return g.allowPrivate || domain.IsPublicAddress(a) }

// control runs on every socket before it connects, with the numeric
// address it connects to.
func (g *guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not an address", ErrAddressRefused, network, address)
	}
	if !g.allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrAddressRefused, ap.Addr().Unmap())
	}
	return nil
}

// dialContext connects to addr (host:port) at the first of its addresses
// that is allowed and answers.
func (g *guard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if !g.allowed(a) {
			errs = append(errs, fmt.Errorf("%w: %s resolves to %s", ErrAddressRefused, host, a.Unmap()))
			continue
		}
		conn, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("webhook: %s has no address", host)
	}
	return nil, errors.Join(errs...)
}
