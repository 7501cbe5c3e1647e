package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

func sharedLimiter(tb testing.TB) (*sqlstore.RateLimiter, *sqlstore.Store) {
	tb.Helper()
	s := openMigrated(tb, sqlstoretest.NewPostgresURL(tb))
	l, err := s.RateLimiter()
	if err != nil {
		tb.Fatal(err)
	}
	return l, s
}

// GCRA: n at once, then one every period/n, with the wait said.
func TestSharedRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _ := sharedLimiter(t)
	const n, period = 5, 2 * time.Second
	for i := range n {
		if ok, _, err := l.Allow(ctx, "login|ip|192.0.2.1", n, period); err != nil || !ok {
			t.Fatalf("request %d of the burst refused: %v %v", i+1, ok, err)
		}
	}
	ok, wait, err := l.Allow(ctx, "login|ip|192.0.2.1", n, period)
	if err != nil || ok {
		t.Fatalf("the request past the burst = %v, %v; want refused", ok, err)
	}
	if t1 := period / n; wait <= 0 || wait > t1 {
		t.Errorf("wait %v, want in (0, %v]", wait, t1)
	}
	// Other keys have budgets of their own.
	if ok, _, err := l.Allow(ctx, "login|ip|192.0.2.2", n, period); err != nil || !ok {
		t.Errorf("another key refused: %v %v", ok, err)
	}
	time.Sleep(wait + 20*time.Millisecond)
	if ok, _, err := l.Allow(ctx, "login|ip|192.0.2.1", n, period); err != nil || !ok {
		t.Errorf("after the wait the request is refused: %v %v", ok, err)
	}
	if _, _, err := l.Allow(ctx, "k", 0, period); err == nil {
		t.Error("a limit of 0 per period was accepted")
	}
}

// However many instances ask at once, the budget is spent exactly once.
func TestSharedRateLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	l, s := sharedLimiter(t)
	const n, workers = 10, 40
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			ok, _, err := l.Allow(context.Background(), "register|account|a@example.com", n, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != n {
		t.Errorf("%d of %d concurrent requests allowed, want exactly %d", got, workers, n)
	}
	// A budget full again is swept; one in use is kept.
	if _, _, err := l.Allow(context.Background(), "short", 1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if n, err := l.Sweep(context.Background()); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want the one full budget", n, err)
	}
	_ = s
}

func TestSharedRateLimitNeedsPostgres(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, sqliteURL(t))
	if _, err := s.RateLimiter(); !errors.Is(err, sqlstore.ErrNoSharedLimits) {
		t.Errorf("RateLimiter on SQLite = %v, want ErrNoSharedLimits", err)
	}
}

// BenchmarkSharedRateLimit is what a limited request costs on PostgreSQL:
// one statement.
func BenchmarkSharedRateLimit(b *testing.B) {
	l, _ := sharedLimiter(b)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := l.Allow(context.Background(), fmt.Sprintf("bench|ip|%d", i%1000), 60, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
