package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rate limits shared by every instance (PostgreSQL only), with GCRA: each
// key keeps the theoretical arrival time (tat) of its next request; a
// request is allowed when max(tat, now) + T - now <= period, T being
// period/n, and then moves tat to max(tat, now) + T. One statement decides
// and records, atomically, with the database's clock, so instances with
// skewed clocks agree.

// allowRate is GCRA in one statement: $1 key, $2 T and $3 period in seconds.
// It returns whether the request is allowed and, if not, the seconds until
// one is.
const allowRate = `
INSERT INTO rate_limits AS r (key, tat, ok) VALUES ($1, now() + make_interval(secs => $2), true)
ON CONFLICT (key) DO UPDATE SET
  ok  = greatest(r.tat, now()) + make_interval(secs => $2) - now() <= make_interval(secs => $3),
  tat = CASE WHEN greatest(r.tat, now()) + make_interval(secs => $2) - now() <= make_interval(secs => $3)
             THEN greatest(r.tat, now()) + make_interval(secs => $2) ELSE r.tat END
RETURNING ok, extract(epoch FROM r.tat + make_interval(secs => $2) - now() - make_interval(secs => $3))`

// ErrNoSharedLimits: SQLite serves one process, whose limits stay in memory.
var ErrNoSharedLimits = errors.New("sqlstore: shared rate limits need PostgreSQL")

// maxLimitKey bounds a key (the table's check constraint).
const maxLimitKey = 200

// RateLimiter returns the shared rate limiter of a PostgreSQL store, or
// ErrNoSharedLimits.
func (s *Store) RateLimiter() (*RateLimiter, error) {
	if !s.HasChangeFeed() {
		return nil, ErrNoSharedLimits
	}
	return &RateLimiter{s: s}, nil
}

// RateLimiter keeps rate-limit budgets in PostgreSQL for every instance.
type RateLimiter struct{ s *Store }

// Allow takes one request from key's budget of n per period (n at once at
// most), and says how long until the next one is allowed when it refuses.
func (l *RateLimiter) Allow(ctx context.Context, key string, n int, period time.Duration) (bool, time.Duration, error) {
	if n < 1 || period <= 0 {
		return false, 0, fmt.Errorf("sqlstore: rate limit of %d per %v", n, period)
	}
	if len(key) > maxLimitKey {
		return false, 0, fmt.Errorf("sqlstore: rate limit key of %d bytes", len(key))
	}
	t := period.Seconds() / float64(n)
	var ok bool
	var wait float64
	if err := l.s.db.QueryRowContext(ctx, allowRate, key, t, period.Seconds()).Scan(&ok, &wait); err != nil {
		return false, 0, l.s.wrap("rate limit", err)
	}
	if ok {
		return true, 0, nil
	}
	return false, time.Duration(max(wait, 0) * float64(time.Second)), nil
}

// Sweep deletes the budgets that are full again (tat past): they are the
// same as no row. Any instance may run it; running it twice is harmless.
func (l *RateLimiter) Sweep(ctx context.Context) (int64, error) {
	res, err := l.s.db.ExecContext(ctx, "DELETE FROM rate_limits WHERE tat < now()")
	if err != nil {
		return 0, l.s.wrap("sweep rate limits", err)
	}
	return res.RowsAffected()
}
