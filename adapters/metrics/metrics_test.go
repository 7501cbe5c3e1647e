package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/usersvc/usersvc/adapters/metrics"
)

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	reg, err := metrics.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds")
	}
	for _, name := range want {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series, %v; want 1", name, n, err)
		}
	}
	// A registry of its own: two can be built, and the global one is untouched.
	if _, err := metrics.NewRegistry(); err != nil {
		t.Errorf("a second registry: %v", err)
	}
}

func TestHashLoad(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	running, waiting := 0, 0
	if err := metrics.RegisterHashLoad(reg, func() (int, int) { return running, waiting }); err != nil {
		t.Fatal(err)
	}
	running, waiting = 3, 17 // read at scrape time
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP usersvc_password_hashes_running Password hashes (argon2id) running now; at most HASH_CONCURRENCY.
# TYPE usersvc_password_hashes_running gauge
usersvc_password_hashes_running 3
# HELP usersvc_password_hashes_waiting Callers waiting for a password hashing slot; past the queue's bound they are refused with 503.
# TYPE usersvc_password_hashes_waiting gauge
usersvc_password_hashes_waiting 17
`))
	if err != nil {
		t.Error(err)
	}
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var fail error
	var calls atomic.Int32
	counts := func(ctx context.Context) (int, int, error) {
		calls.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the outbox query has no deadline")
		}
		return 12, 2, fail
	}
	if err := metrics.RegisterOutbox(reg, counts, time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP usersvc_outbox_count_errors_total Scrapes whose outbox query failed or timed out.
# TYPE usersvc_outbox_count_errors_total counter
usersvc_outbox_count_errors_total 0
# HELP usersvc_outbox_failed Emails in the outbox given up after their last attempt.
# TYPE usersvc_outbox_failed gauge
usersvc_outbox_failed 2
# HELP usersvc_outbox_pending Emails in the outbox not sent yet: due, waiting for a retry or being sent.
# TYPE usersvc_outbox_pending gauge
usersvc_outbox_pending 12
`))
	if err != nil {
		t.Error(err)
	}

	// The count is cached: a burst of scrapes costs one query.
	for range 5 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d outbox queries for 6 scrapes, want 1 (cached)", calls.Load())
	}

	// A failing query leaves the gauges out and is counted; the scrape
	// itself succeeds.
	fail = errors.New("database down")
	reg = prometheus.NewRegistry()
	if err := metrics.RegisterOutbox(reg, counts, time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP usersvc_outbox_count_errors_total Scrapes whose outbox query failed or timed out.
# TYPE usersvc_outbox_count_errors_total counter
usersvc_outbox_count_errors_total 1
`))
	if err != nil {
		t.Error(err)
	}
}

// TestOutboxSlowDatabase: a query that does not answer is cut at the
// timeout, so the scrape returns.
func TestOutboxSlowDatabase(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	const timeout = 50 * time.Millisecond
	hang := func(ctx context.Context) (int, int, error) {
		<-ctx.Done()
		return 0, 0, ctx.Err()
	}
	if err := metrics.RegisterOutbox(reg, hang, timeout, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := testutil.GatherAndCount(reg, "usersvc_outbox_pending", "usersvc_outbox_count_errors_total")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a scrape over a hung database took %s; the timeout is %s", took, timeout)
	}
	if err != nil || n != 1 {
		t.Errorf("GatherAndCount = %d, %v; want only the error counter", n, err)
	}
}
