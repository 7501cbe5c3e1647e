package argon2hash

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/usersvc/usersvc/domain"
)

// gate stands in for argon2id: every call blocks until open is closed,
// and it records how many ran at once.
type gate struct {
	open             chan struct{}
	running, maxSeen atomic.Int64
	started          chan struct{} // one send per call that got a slot
}

func newGate() *gate { return &gate{open: make(chan struct{}), started: make(chan struct{}, 100)} }

func (g *gate) enter() {
	n := g.running.Add(1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	g.started <- struct{}{}
	<-g.open
	g.running.Add(-1)
}

// gated returns a hasher whose hashing blocks on g.
func gated(t *testing.T, concurrency int, g *gate, opts ...Option) *Hasher {
	t.Helper()
	h, err := New(Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}, concurrency, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h.check = func(string, string) (bool, *argon2id.Params, error) {
		g.enter()
		return true, h.params, nil
	}
	h.create = func(string, *argon2id.Params) (string, error) {
		g.enter()
		return "hash", nil
	}
	return h
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFloodIsBoundedAndShed(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := gated(t, 1, g, WithMaxWaiting(2))
	const callers = 20
	type result struct{ err error }
	results := make(chan result, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, _, err := h.Verify(context.Background(), "pw", "hash")
			results <- result{err}
		})
	}
	// One runs, two wait, and the other 17 must fail while the first still
	// holds its slot: they are shed at once, not after a timeout.
	for i := range callers - 3 {
		select {
		case r := <-results:
			if r.err == nil {
				t.Fatalf("result %d succeeded while the only slot was held", i)
			}
			if !errors.Is(r.err, domain.ErrUnavailable) || !errors.Is(r.err, ErrQueueFull) {
				t.Errorf("shed call: %v; want ErrQueueFull wrapping domain.ErrUnavailable", r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d calls were shed while the slot was held", i, callers-3)
		}
	}
	if got := h.waiting.Load(); got != 2 {
		t.Errorf("waiting = %d, want 2", got)
	}
	close(g.open)
	wg.Wait()
	close(results)
	ok := 0
	for r := range results {
		if r.err != nil {
			t.Errorf("a queued call failed: %v", r.err)
			continue
		}
		ok++
	}
	if ok != 3 {
		t.Errorf("%d calls succeeded, want 3 (one running, two queued)", ok)
	}
	if m := g.maxSeen.Load(); m != 1 {
		t.Errorf("%d hashes ran at once, want at most 1", m)
	}
	if got := h.waiting.Load(); got != 0 {
		t.Errorf("waiting = %d after the flood, want 0", got)
	}
}

func TestConcurrencyBoundsHashToo(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := gated(t, 3, g)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Errorf("Hash: %v", err)
			}
		})
	}
	for range 3 {
		<-g.started
	}
	waitFor(t, "9 waiters", func() bool { return h.waiting.Load() == 9 })
	close(g.open)
	wg.Wait()
	if m := g.maxSeen.Load(); m != 3 {
		t.Errorf("%d hashes ran at once, want 3", m)
	}
}

func TestNoQueueFailsAtOnce(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := gated(t, 1, g, WithMaxWaiting(0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.Hash(context.Background(), "pw")
	}()
	<-g.started
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Hash with the slot taken and no queue: %v, want ErrQueueFull", err)
	}
	close(g.open)
	<-done
}

func TestWaitTimesOut(t *testing.T) {
	t.Parallel()
	g := newGate()
	const maxWait = 50 * time.Millisecond
	h := gated(t, 1, g, WithMaxWait(maxWait))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = h.Verify(context.Background(), "pw", "hash")
	}()
	<-g.started
	start := time.Now()
	_, _, err := h.Verify(context.Background(), "pw", "hash")
	if !errors.Is(err, ErrWaitTimeout) || !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Verify after waiting: %v; want ErrWaitTimeout wrapping domain.ErrUnavailable", err)
	}
	if waited := time.Since(start); waited < maxWait {
		t.Errorf("gave up after %s, before the %s allowed", waited, maxWait)
	}
	close(g.open)
	<-done
	if got := h.waiting.Load(); got != 0 {
		t.Errorf("waiting = %d, want 0", got)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := gated(t, 1, g)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = h.Verify(context.Background(), "pw", "hash")
	}()
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, "pw", "hash")
		errc <- err
	}()
	waitFor(t, "a waiter", func() bool { return h.waiting.Load() == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("cancelled wait: %v; want context.Canceled and domain.ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled caller kept waiting")
	}
	if got := h.waiting.Load(); got != 0 {
		t.Errorf("waiting = %d after the cancelled caller left, want 0", got)
	}
	if g.running.Load() != 1 {
		t.Errorf("the cancelled caller ran a hash")
	}
	close(g.open)
	<-done
}

func TestDefaultQueue(t *testing.T) {
	t.Parallel()
	h, err := New(DefaultParams, 3)
	if err != nil {
		t.Fatal(err)
	}
	if h.maxWaiting != 3*DefaultWaitingPerSlot || h.maxWait != DefaultMaxWait {
		t.Errorf("queue = %d waiting for %s, want %d for %s", h.maxWaiting, h.maxWait, 3*DefaultWaitingPerSlot, DefaultMaxWait)
	}
}
