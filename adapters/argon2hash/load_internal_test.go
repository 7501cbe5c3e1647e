package argon2hash

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := gated(t, 2, g, WithMaxWaiting(3))
	if r, w := h.Load(); r != 0 || w != 0 {
		t.Fatalf("idle Load() = %d running, %d waiting; want 0, 0", r, w)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _, _ = h.Verify(context.Background(), "pw", "hash") })
	}
	<-g.started
	<-g.started
	if r, w := h.Load(); r != 2 || w != 0 {
		t.Errorf("Load() with both slots busy = %d running, %d waiting; want 2, 0", r, w)
	}
	for range 3 {
		wg.Go(func() { _, _ = h.Hash(context.Background(), "pw") })
	}
	waitFor(t, "3 waiters", func() bool { _, w := h.Load(); return w == 3 })
	// A caller refused by the full queue is never reported as waiting.
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Hash with a full queue: %v, want ErrQueueFull", err)
	}
	if r, w := h.Load(); r != 2 || w != 3 {
		t.Errorf("Load() with a full queue = %d running, %d waiting; want 2, 3", r, w)
	}
	close(g.open)
	wg.Wait()
	if r, w := h.Load(); r != 0 || w != 0 {
		t.Errorf("Load() after the work = %d running, %d waiting; want 0, 0", r, w)
	}
}
