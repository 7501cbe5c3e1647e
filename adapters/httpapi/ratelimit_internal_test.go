package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

// These tests drive the limits directly: the routes that use them are
// wired in routes.go, and the HTTP tests there run with RATE_LIMITS off.

// newTestLimits returns enabled limits on a frozen clock.
func newTestLimits(opts Options) (*limits, *testsupport.Clock) {
	opts.RateLimits = true
	l := newLimits(opts, nil)
	c := testsupport.NewClock(time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))
	l.now = c.Now
	return l, c
}

// limitedServer is the chain NewServer builds around a route, with bucket's
// per-IP limit on a handler that answers 200.
func limitedServer(l *limits, trusted []netip.Prefix, bucket string) http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return withClientIP(trusted, l.IP(bucket)(ok))
}

// post sends one request from peer (ip:port) with the given X-Forwarded-For.
func post(h http.Handler, peer, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/login/", nil)
	req.RemoteAddr = peer
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantTooMany checks a 429 with its Retry-After and body.
func wantTooMany(t *testing.T, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	var body struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Detail != "Too many requests, retry later" {
		t.Errorf("body = %s, want the detail \"Too many requests, retry later\"", rec.Body)
	}
}

func TestLimitTableDefaults(t *testing.T) {
	// The table as documented; a change here is a change of policy.
	want := map[string]struct{ ip, account string }{
		limitLogin:              {"60/1m0s", "30/1m0s"},
		limitRegister:           {"30/1m0s", "10/1h0m0s"},
		limitResetRequest:       {"10/1m0s", "5/1h0m0s"},
		limitResendVerification: {"10/1m0s", "5/1h0m0s"},
		limitResetConfirm:       {"20/1m0s", "none"},
		limitRefresh:            {"60/1m0s", "none"},
		limitUnlock:             {"20/1m0s", "none"},
		limitLoginMFA:           {"60/1m0s", "none"},
		limitEmailChange:        {"10/1m0s", "10/1h0m0s"},
		limitEmailConfirm:       {"20/1m0s", "none"},
		limitInvitationAccept:   {"20/1m0s", "none"},
	}
	show := func(r limitRate) string {
		if r == noLimit {
			return "none"
		}
		return fmt.Sprintf("%d/%s", r.n, r.period)
	}
	if len(limitTable) != len(want) {
		t.Errorf("limitTable has %d buckets, want %d", len(limitTable), len(want))
	}
	for b, w := range want {
		row, ok := limitTable[b]
		if !ok {
			t.Errorf("no bucket %q", b)
			continue
		}
		if got := show(row.perIP); got != w.ip {
			t.Errorf("%s per IP = %s, want %s", b, got, w.ip)
		}
		if got := show(row.perAccount); got != w.account {
			t.Errorf("%s per account = %s, want %s", b, got, w.account)
		}
	}
}

func TestRateLimitIPBurstThen429(t *testing.T) {
	for b, row := range limitTable {
		t.Run(b, func(t *testing.T) {
			l, clock := newTestLimits(Options{})
			srv := limitedServer(l, nil, b)
			for i := range row.perIP.n {
				if rec := post(srv, "192.0.2.10:4711", ""); rec.Code != http.StatusOK {
					t.Fatalf("request %d of a burst of %d: status %d", i+1, row.perIP.n, rec.Code)
				}
			}
			// One token comes back every period/n: that is the wait.
			every := row.perIP.period / time.Duration(row.perIP.n)
			wantTooMany(t, post(srv, "192.0.2.10:4711", ""), fmt.Sprint(int(math.Ceil(every.Seconds()))))
			// Another client is not affected.
			if rec := post(srv, "192.0.2.11:4711", ""); rec.Code != http.StatusOK {
				t.Errorf("another client: status %d, want 200", rec.Code)
			}
			clock.Advance(every)
			if rec := post(srv, "192.0.2.10:4711", ""); rec.Code != http.StatusOK {
				t.Errorf("after %s: status %d, want 200", every, rec.Code)
			}
			wantTooMany(t, post(srv, "192.0.2.10:4711", ""), fmt.Sprint(int(math.Ceil(every.Seconds()))))
		})
	}
}

// The 61st login from one address within a minute is refused.
func TestRateLimitLogin61st(t *testing.T) {
	l, _ := newTestLimits(Options{})
	srv := limitedServer(l, nil, limitLogin)
	for i := range 60 {
		if rec := post(srv, "198.51.100.7:1234", ""); rec.Code != http.StatusOK {
			t.Fatalf("login %d: status %d", i+1, rec.Code)
		}
	}
	wantTooMany(t, post(srv, "198.51.100.7:1234", ""), "1")
}

func TestRateLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	l, _ := newTestLimits(Options{})
	srv := limitedServer(l, proxies, limitLogin)
	// The peer is not a trusted proxy: a new X-Forwarded-For on every
	// request must not buy a new bucket.
	for i := range 60 {
		xff := fmt.Sprintf("203.0.113.%d, 10.1.2.3", i)
		if rec := post(srv, "198.51.100.7:1234", xff); rec.Code != http.StatusOK {
			t.Fatalf("login %d: status %d", i+1, rec.Code)
		}
	}
	wantTooMany(t, post(srv, "198.51.100.7:1234", "203.0.113.250"), "1")
}

func TestRateLimitHonoursForwardedForFromTrustedProxy(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	l, _ := newTestLimits(Options{})
	srv := limitedServer(l, proxies, limitLogin)
	// Many clients behind one proxy each get their own bucket…
	for i := range 200 {
		xff := fmt.Sprintf("203.0.113.%d", i)
		if rec := post(srv, "10.0.0.2:5555", xff); rec.Code != http.StatusOK {
			t.Fatalf("client %s: status %d", xff, rec.Code)
		}
	}
	// …and one client is limited, whatever it puts to the left.
	for i := range 59 {
		xff := fmt.Sprintf("1.2.3.%d, 198.51.100.9, 10.9.9.9", i)
		if rec := post(srv, "10.0.0.2:5555", xff); rec.Code != http.StatusOK {
			t.Fatalf("login %d: status %d", i+1, rec.Code)
		}
	}
	if rec := post(srv, "10.0.0.3:5555", "198.51.100.9"); rec.Code != http.StatusOK {
		t.Fatalf("login 60 through another proxy: status %d", rec.Code)
	}
	wantTooMany(t, post(srv, "10.0.0.2:5555", "6.6.6.6, 198.51.100.9"), "1")
	if rec := post(srv, "10.0.0.2:5555", "198.51.100.10"); rec.Code != http.StatusOK {
		t.Errorf("a neighbour: status %d, want 200", rec.Code)
	}
}

func TestRateLimitGroupsIPv6By64(t *testing.T) {
	l, _ := newTestLimits(Options{})
	srv := limitedServer(l, nil, limitResetRequest)
	for i := range 10 {
		if rec := post(srv, fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), ""); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, rec.Code)
		}
	}
	wantTooMany(t, post(srv, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:443", ""), "6")
	if rec := post(srv, "[2001:db8:1:3::1]:443", ""); rec.Code != http.StatusOK {
		t.Errorf("another /64: status %d, want 200", rec.Code)
	}
}

func TestRateLimitAccount(t *testing.T) {
	l, clock := newTestLimits(Options{})
	for i := range 30 {
		// Spelling does not make a new account.
		key := []string{"alice@example.com", " Alice@Example.COM ", "ALICE@EXAMPLE.COM"}[i%3]
		if ok, _ := l.Account(limitLogin, key); !ok {
			t.Fatalf("login %d for alice refused", i+1)
		}
	}
	ok, retry := l.Account(limitLogin, "alice@example.com")
	if ok || retry <= 0 || retry > 2*time.Second {
		t.Errorf("31st login for alice = %v, retry after %s; want refused, about 2s", ok, retry)
	}
	if ok, _ := l.Account(limitLogin, "bob@example.com"); !ok {
		t.Error("bob is limited by alice's attempts")
	}
	if ok, _ := l.Account(limitResetRequest, "alice@example.com"); !ok {
		t.Error("the login bucket limits password resets")
	}
	clock.Advance(2 * time.Second)
	if ok, _ := l.Account(limitLogin, "alice@example.com"); !ok {
		t.Error("alice still refused after a token came back")
	}

	for i := range 5 {
		if ok, _ := l.Account(limitResetRequest, "carol@example.com"); !ok {
			t.Fatalf("reset request %d refused", i+1)
		}
	}
	ok, retry = l.Account(limitResetRequest, "carol@example.com")
	if ok || retry != 12*time.Minute {
		t.Errorf("6th reset request = %v, retry after %s; want refused, 12m", ok, retry)
	}
	rec := httptest.NewRecorder()
	if l.allowAccount(rec, httptest.NewRequest(http.MethodPost, "/password-reset/request", nil), limitResetRequest, "Carol@example.com") {
		t.Fatal("allowAccount allowed a spent account")
	}
	wantTooMany(t, rec, "720")
	if ok, _ := l.Account(limitLogin, ""); !ok {
		t.Error("an empty key is refused: validation, not the limit, answers it")
	}
}

func TestRateLimitLongAccountKeysAreHashed(t *testing.T) {
	l, _ := newTestLimits(Options{})
	long := strings.Repeat("x", 10000) + "@example.com"
	l.Account(limitLogin, long)
	l.Account(limitLogin, strings.ToUpper(long))
	s := l.account[limitLogin]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) != 1 {
		t.Fatalf("%d keys, want 1", len(s.entries))
	}
	for k := range s.entries {
		if len(k) > 80 {
			t.Errorf("a %d-byte key is stored", len(k))
		}
	}
}

func TestRateLimitsOff(t *testing.T) {
	l := newLimits(Options{RateLimits: false}, nil)
	srv := limitedServer(l, nil, limitResetRequest)
	for i := range 500 {
		if rec := post(srv, "192.0.2.1:1", ""); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d with limits off", i+1, rec.Code)
		}
		if ok, _ := l.Account(limitResetRequest, "a@example.com"); !ok {
			t.Fatalf("account request %d refused with limits off", i+1)
		}
	}
	var none *limits
	if ok, _ := none.allowIP(httptest.NewRequest(http.MethodPost, "/", nil), limitLogin); !ok {
		t.Error("nil limits refuse")
	}
	if ok, _ := none.Account(limitLogin, "a@example.com"); !ok {
		t.Error("nil limits refuse")
	}
}

func TestRateLimitUnknownBucketPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(l *limits)
	}{
		{"IP", func(l *limits) { l.IP("logni") }},
		{"allowIP", func(l *limits) { l.allowIP(httptest.NewRequest(http.MethodPost, "/", nil), "logni") }},
		{"Account", func(l *limits) { l.Account("logni", "a@example.com") }},
		{"Account without a per-account limit", func(l *limits) { l.Account(limitRefresh, "a@example.com") }},
	} {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/on=%v", tc.name, on), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Error("no panic: a misspelt bucket would go unnoticed")
					}
				}()
				tc.call(newLimits(Options{RateLimits: on}, nil))
			})
		}
	}
}

func TestWriteRateLimitedRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1200 * time.Millisecond, "2"}, {12 * time.Minute, "720"}} {
		rec := httptest.NewRecorder()
		writeRateLimited(rec, tc.d)
		wantTooMany(t, rec, tc.want)
	}
}

func TestRateLimitEvictsIdleKeys(t *testing.T) {
	l, clock := newTestLimits(Options{})
	ip := l.ip[limitLogin]
	for i := range 1000 {
		ip.allow(fmt.Sprintf("key%d", i), clock.Now())
	}
	if n := ip.len(); n != 1000 {
		t.Fatalf("%d keys, want 1000", n)
	}
	clock.Advance(limitMinIdle - time.Second)
	ip.allow("fresh", clock.Now())
	if n := ip.len(); n != 1001 {
		t.Fatalf("%d keys before the idle time, want 1001", n)
	}
	clock.Advance(time.Second)
	ip.allow("fresh", clock.Now())
	if n := ip.len(); n != 1 {
		t.Errorf("%d keys after the idle time, want 1", n)
	}

	// A bucket that refills slowly (5 an hour) is kept until it is full
	// again: forgetting it sooner would hand out a fresh burst.
	acct := l.account[limitResetRequest]
	for range 5 {
		acct.allow("victim@example.com", clock.Now())
	}
	clock.Advance(30 * time.Minute)
	acct.allow("other@example.com", clock.Now())
	if n := acct.len(); n != 2 {
		t.Errorf("%d account keys after 30 idle minutes, want 2", n)
	}
	clock.Advance(time.Hour)
	acct.allow("other@example.com", clock.Now())
	if n := acct.len(); n != 1 {
		t.Errorf("%d account keys after an idle hour, want 1", n)
	}
}

func TestRateLimitSlowBucketSurvivesSweep(t *testing.T) {
	l, clock := newTestLimits(Options{})
	for range 5 {
		if ok, _ := l.Account(limitResendVerification, "victim@example.com"); !ok {
			t.Fatal("burst refused")
		}
	}
	// Eleven minutes later the sweep of other keys has run, but the
	// victim's bucket holds under one token (5 an hour): still refused.
	clock.Advance(11 * time.Minute)
	l.Account(limitResendVerification, "other@example.com")
	if ok, _ := l.Account(limitResendVerification, "victim@example.com"); ok {
		t.Error("the sweep forgot a bucket that had not refilled")
	}
}

func TestRateLimitStoreIsCapped(t *testing.T) {
	now := time.Now()
	s := newLimitStore(perMinute(60), 100)
	for i := range 10000 {
		s.allow(fmt.Sprintf("203.0.%d.%d", i/256, i%256), now)
	}
	if n := s.len(); n != 100 {
		t.Errorf("%d keys, want the cap, 100", n)
	}
	// The most recent keys are the ones kept.
	s.mu.Lock()
	_, recent := s.entries["203.0.39.15"] // key 9999
	_, old := s.entries["203.0.0.0"]
	s.mu.Unlock()
	if !recent || old {
		t.Errorf("recent kept %v, oldest kept %v; want true, false", recent, old)
	}
}

func TestRateLimitConcurrentUse(t *testing.T) {
	l, _ := newTestLimits(Options{})
	srv := limitedServer(l, nil, limitLogin)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 50 {
				// Every goroutine hits one shared address and its own.
				if rec := post(srv, "192.0.2.1:1", ""); rec.Code == http.StatusOK {
					allowed.Add(1)
				}
				post(srv, fmt.Sprintf("198.51.100.%d:1", g), "")
				l.Account(limitLogin, fmt.Sprintf("user%d@example.com", i))
			}
		})
	}
	wg.Wait()
	// The clock is frozen: exactly the burst gets through.
	if got := allowed.Load(); got != 60 {
		t.Errorf("%d requests from one address allowed, want exactly 60", got)
	}
}

// fakeShared is a SharedLimiter that counts keys, or fails.
type fakeShared struct {
	mu    sync.Mutex
	seen  map[string]int
	limit int
	err   error
}

func (f *fakeShared) Allow(_ context.Context, key string, n int, period time.Duration) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return false, 0, f.err
	}
	f.seen[key]++
	if f.seen[key] > f.limit {
		return false, 3 * time.Second, nil
	}
	return true, 0, nil
}

// With a shared limiter its decision holds, under keys that name the
// bucket, the scope and the client or account.
func TestSharedLimiterDecides(t *testing.T) {
	shared := &fakeShared{seen: map[string]int{}, limit: 2}
	l, _ := newTestLimits(Options{SharedLimiter: shared})
	srv := limitedServer(l, nil, limitLogin)
	for i := range 2 {
		if rec := post(srv, "192.0.2.7:1234", ""); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
	}
	rec := post(srv, "192.0.2.7:1234", "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3" {
		t.Errorf("past the shared budget: %d, Retry-After %q; want 429, 3", rec.Code, rec.Header().Get("Retry-After"))
	}
	if ok, _ := l.Account(limitLogin, " Alice@Example.com"); !ok {
		t.Error("the first account request refused")
	}
	if shared.seen["login|ip|192.0.2.7"] != 3 || shared.seen["login|account|alice@example.com"] != 1 {
		t.Errorf("shared keys %v", shared.seen)
	}
}

// A shared limiter that cannot answer neither takes the service down nor
// lifts the limits: each instance counts on its own, and says so once.
func TestSharedLimiterOutageFallsBackToLocalLimits(t *testing.T) {
	var logs bytes.Buffer
	shared := &fakeShared{err: errors.New("connection refused")}
	l, _ := newTestLimits(Options{SharedLimiter: shared})
	l.log = slog.New(slog.NewTextHandler(&logs, nil))
	srv := limitedServer(l, nil, limitResetRequest) // 10 a minute per IP
	for i := range 10 {
		if rec := post(srv, "192.0.2.8:1234", ""); rec.Code != http.StatusOK {
			t.Fatalf("request %d during the outage: %d", i+1, rec.Code)
		}
	}
	if rec := post(srv, "192.0.2.8:1234", ""); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the 11th request during the outage: %d, want 429 from the local limit", rec.Code)
	}
	if n := strings.Count(logs.String(), "shared rate limits unreachable"); n != 1 {
		t.Errorf("%d warnings about the outage, want 1 (not one a request):\n%s", n, logs.String())
	}
}
