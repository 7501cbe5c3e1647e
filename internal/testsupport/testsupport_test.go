package testsupport_test

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	c := testsupport.NewClock(start)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(10 * time.Second)) {
		t.Errorf("Now = %v after 10 concurrent one-second advances from %v", got, start)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now = %v after Set(%v)", got, start)
	}
}

func TestBufferTakesConcurrentLogs(t *testing.T) {
	t.Parallel()
	var b testsupport.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { log.Info("hello", "n", i) })
	}
	wg.Wait()
	lines := b.JSONLines(t)
	seen := map[string]bool{}
	for _, rec := range lines {
		if rec["msg"] != "hello" {
			t.Errorf("record %v", rec)
		}
		seen[fmt.Sprint(rec["n"])] = true
	}
	if len(lines) != 20 || len(seen) != 20 {
		t.Errorf("%d lines, %d distinct, want 20 of each:\n%s", len(lines), len(seen), b.String())
	}
	b.Reset()
	if b.String() != "" || len(b.JSONLines(t)) != 0 {
		t.Errorf("after Reset: %q", b.String())
	}
}

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	t.Parallel()
	addr := testsupport.FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q, want 127.0.0.1:port", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	l.Close()
	if p := testsupport.FreePort(t); p <= 0 || p > 65535 {
		t.Errorf("FreePort = %d", p)
	}
}
