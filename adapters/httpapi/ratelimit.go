package httpapi

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// golang.org/x/time/rate is the Go team's token bucket: maintained with
	// the standard library, used by Kubernetes' client-go and gRPC, exact
	// under concurrency, and it reports how long until the next token, which
	// is what Retry-After needs. A hand-rolled limiter would be one more
	// thing to get wrong in the one place attackers test first.
	"golang.org/x/time/rate"
)

// detailTooManyRequests is the body of every 429.
const detailTooManyRequests = "Too many requests, retry later"

// The rate-limited operations ("buckets"); pass these names to the
// methods of limits. A name not in limitTable panics, so a typo shows in
// the first test that reaches it, limits on or off.
const (
	limitLogin              = "login"         // POST /login
	limitRegister           = "register"      // POST /register
	limitResetRequest       = "reset"         // POST /password-reset/request
	limitResendVerification = "resend"        // POST /verify-email/resend
	limitResetConfirm       = "reset_confirm" // POST /password-reset/confirm
	limitRefresh            = "refresh"       // POST /token/refresh
	limitUnlock             = "unlock"        // POST /unlock
	limitLoginMFA           = "login_mfa"     // POST /login/mfa
	limitEmailChange        = "email_change"  // POST /users/me/email (per account: the caller's id)
	limitEmailConfirm       = "email_confirm" // POST /email-change/confirm
	limitInvitationAccept   = "invitation"    // POST /invitations/accept
)

// limitRate is n requests per period, n of them at once (the burst).
type limitRate struct {
	n      int
	period time.Duration
}

func perMinute(n int) limitRate { return limitRate{n: n, period: time.Minute} }
func perHour(n int) limitRate   { return limitRate{n: n, period: time.Hour} }

// noLimit marks a bucket without a per-account limit.
var noLimit = limitRate{}

// limitTable is every limit. They are generous: a person, a shared office
// NAT or a test suite never meets them; a password-guessing or
// mail-bombing script does. Per account, the key is the normalised email
// (or username) in the body, so one account cannot be attacked from many
// addresses; for login the lockout (MAX_LOGIN_ATTEMPTS) is the real
// per-account guard, and this limit only caps the load. A limit counts
// every request, whatever its outcome, so it reveals nothing about
// whether an account exists.
var limitTable = map[string]struct{ perIP, perAccount limitRate }{
	//                        per client IP   per account
	limitLogin:              {perMinute(60), perMinute(30)},
	limitRegister:           {perMinute(30), perHour(10)},
	limitResetRequest:       {perMinute(10), perHour(5)},
	limitResendVerification: {perMinute(10), perHour(5)},
	limitResetConfirm:       {perMinute(20), noLimit},
	limitRefresh:            {perMinute(60), noLimit},
	limitUnlock:             {perMinute(20), noLimit},
	// The second step of a login names no account but by its mfa_token;
	// the lockout counts every wrong code against the account.
	limitLoginMFA:         {perMinute(60), noLimit},
	limitEmailChange:      {perMinute(10), perHour(10)},
	limitEmailConfirm:     {perMinute(20), noLimit},
	limitInvitationAccept: {perMinute(20), noLimit},
}

// Bounds on the limiters' memory.
const (
	// limitMinIdle: a key unused this long (and at least until its bucket
	// has refilled) is forgotten; forgetting a full bucket changes nothing.
	limitMinIdle = 10 * time.Minute
	// limitMaxKeys caps each store (one per bucket and scope). When full,
	// the least recently used key is forgotten. A key costs about 250
	// bytes (measured), so the stores (one per bucket and scope, a dozen)
	// hold at most ~150 MB even when flooded from millions of addresses.
	limitMaxKeys = 50_000
	// limitMaxKeyLen: longer account keys are stored as their SHA-256.
	limitMaxKeyLen = 64
)

// limits holds the rate limiters of one server. Its methods are safe for
// concurrent use; a nil or disabled *limits allows everything. It starts
// no goroutine: idle keys are swept on access.
type limits struct {
	enabled   bool
	now       func() time.Time
	ip        map[string]*limitStore
	account   map[string]*limitStore
	knownKeys map[string]bool // buckets with a per-account limit
	// shared, when set, holds the budgets for every instance together;
	// the stores above then only stand in while it cannot be reached.
	shared SharedLimiter
	log    *slog.Logger
	// lastWarned is when a failure of shared was last logged (unix nanos).
	lastWarned atomic.Int64
}

// SharedLimiter keeps rate-limit budgets that every instance of the service
// counts against together (PostgreSQL, Redis), so that N instances do not
// give an attacker N budgets.
type SharedLimiter interface {
	// Allow takes one request from key's budget of n requests per period
	// (n at once at most). When refused, retryAfter is how long until one
	// is allowed.
	Allow(ctx context.Context, key string, n int, period time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// sharedTimeout bounds one call to the shared limiter: past it, this
// instance's own limits decide.
const sharedTimeout = 250 * time.Millisecond

// newLimits builds the limits of limitTable, enforced when
// opts.RateLimits is set, shared when opts.SharedLimiter is.
func newLimits(opts Options, log *slog.Logger) *limits {
	l := &limits{
		enabled:   opts.RateLimits,
		shared:    opts.SharedLimiter,
		log:       log,
		now:       time.Now,
		ip:        make(map[string]*limitStore, len(limitTable)),
		account:   make(map[string]*limitStore, len(limitTable)),
		knownKeys: make(map[string]bool, len(limitTable)),
	}
	for b, row := range limitTable {
		l.ip[b] = newLimitStore(row.perIP, limitMaxKeys)
		if row.perAccount != noLimit {
			l.account[b] = newLimitStore(row.perAccount, limitMaxKeys)
			l.knownKeys[b] = true
		}
	}
	return l
}

// IP is middleware limiting the requests of one client IP (as resolved by
// Options.TrustedProxies) to bucket's per-IP rate; over it the answer is
// 429 with Retry-After. It panics at set-up on an unknown bucket.
func (l *limits) IP(b string) func(http.Handler) http.Handler {
	if l != nil {
		if _, ok := l.ip[b]; !ok {
			panic(fmt.Sprintf("httpapi: no rate limit named %q", b))
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, retry := l.allowIP(r, b); !ok {
				writeRateLimited(w, retry)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// allowIP counts one request of r's client against bucket's per-IP limit.
// When refused, retryAfter is how long until one would be allowed.
func (l *limits) allowIP(r *http.Request, b string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	s, known := l.ip[b]
	if !known {
		panic(fmt.Sprintf("httpapi: no rate limit named %q", b))
	}
	if !l.enabled {
		return true, 0
	}
	key := ipKey(clientOf(r))
	return l.decide(r.Context(), b+"|ip|"+key, limitTable[b].perIP, func() (bool, time.Duration) { return s.allow(key, l.now()) })
}

// decide asks the shared limiter about key, at rate r, and falls back on
// local when it cannot answer: a limiter outage neither takes the service
// down nor lifts the limits, it only makes them per instance for a while,
// with a warning in the log.
func (l *limits) decide(ctx context.Context, key string, r limitRate, local func() (bool, time.Duration)) (bool, time.Duration) {
	if l.shared == nil {
		return local()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
	defer cancel()
	ok, retry, err := l.shared.Allow(sctx, key, r.n, r.period)
	if err == nil {
		return ok, retry
	}
	if now := time.Now().UnixNano(); now-l.lastWarned.Load() > int64(30*time.Second) {
		l.lastWarned.Store(now)
		if l.log != nil {
			l.log.WarnContext(ctx, "shared rate limits unreachable: each instance counts on its own until they are back", "error", err)
		}
	}
	return local()
}

// Account counts one request for the account key (the email or username
// from the body, normalised here: trimmed, lower-cased) against bucket's
// per-account limit. Call it after decoding the body and before the use
// case; when it refuses, answer with writeRateLimited(w, retryAfter). An
// empty key is allowed (the body's validation will refuse it). It panics
// on a bucket without a per-account limit.
func (l *limits) Account(b, key string) (ok bool, retryAfter time.Duration) {
	return l.accountIn(context.Background(), b, key)
}

// accountIn is Account within ctx.
func (l *limits) accountIn(ctx context.Context, b, key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	if !l.knownKeys[b] {
		panic(fmt.Sprintf("httpapi: no per-account rate limit named %q", b))
	}
	key = strings.ToLower(strings.TrimSpace(key))
	if !l.enabled || key == "" {
		return true, 0
	}
	if len(key) > limitMaxKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return l.decide(ctx, b+"|account|"+key, limitTable[b].perAccount, func() (bool, time.Duration) { return l.account[b].allow(key, l.now()) })
}

// allowAccount is Account for a handler: when the limit refuses, it has
// answered 429 and returns false, and the handler returns at once.
func (l *limits) allowAccount(w http.ResponseWriter, r *http.Request, b, key string) bool {
	ok, retry := l.accountIn(r.Context(), b, key)
	if !ok {
		writeRateLimited(w, retry)
	}
	return ok
}

// writeRateLimited answers 429 with Retry-After in whole seconds (at least 1).
func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration) {
	secs := int64(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeDetail(w, http.StatusTooManyRequests, detailTooManyRequests)
}

// ipKey is the key of a client: its IPv4 address, or its IPv6 /64, since
// one subscriber usually holds a whole /64 and could otherwise rotate
// through 2^64 addresses.
func ipKey(ca *clientAddr) string {
	switch {
	case !ca.addr.IsValid():
		return ca.text
	case ca.addr.Is4():
		return ca.addr.String()
	default:
		return netip.PrefixFrom(ca.addr, 64).Masked().String()
	}
}

// limitStore is the limiters of one bucket and scope, most recently used
// first, so idle ones are swept from the back.
type limitStore struct {
	limit   rate.Limit
	burst   int
	idle    time.Duration
	maxKeys int

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     list.List // of *limitEntry
}

type limitEntry struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

func newLimitStore(r limitRate, maxKeys int) *limitStore {
	// A bucket refills in one period; an entry unused that long is full.
	return &limitStore{
		limit:   rate.Limit(float64(r.n) / r.period.Seconds()),
		burst:   r.n,
		idle:    max(limitMinIdle, r.period),
		maxKeys: maxKeys,
		entries: make(map[string]*list.Element),
	}
}

// allow takes a token for key at now, or says how long until one is due.
func (s *limitStore) allow(key string, now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	var e *limitEntry
	if el, ok := s.entries[key]; ok {
		e = el.Value.(*limitEntry)
		s.lru.MoveToFront(el)
	} else {
		if len(s.entries) >= s.maxKeys {
			s.remove(s.lru.Back())
		}
		e = &limitEntry{key: key, lim: rate.NewLimiter(s.limit, s.burst)}
		s.entries[key] = s.lru.PushFront(e)
	}
	e.last = now
	if e.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - e.lim.TokensAt(now)
	return false, time.Duration(missing / float64(s.limit) * float64(time.Second))
}

// sweep forgets the keys unused for s.idle: their buckets are full again.
func (s *limitStore) sweep(now time.Time) {
	for el := s.lru.Back(); el != nil; el = s.lru.Back() {
		if now.Sub(el.Value.(*limitEntry).last) < s.idle {
			return
		}
		s.remove(el)
	}
}

func (s *limitStore) remove(el *list.Element) {
	delete(s.entries, el.Value.(*limitEntry).key)
	s.lru.Remove(el)
}

// len is the number of keys held.
func (s *limitStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}
