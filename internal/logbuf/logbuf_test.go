package logbuf_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/logbuf"
)

// sink is an underlying writer that counts its writes.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *sink) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func newLogger(s *sink) (*slog.Logger, *logbuf.Writer) {
	w := logbuf.New(s)
	return slog.New(logbuf.FlushAt(slog.NewTextHandler(w, nil), w, slog.LevelWarn)), w
}

// Info lines are written together, within logbuf.Every.
func TestLinesAreWrittenInOneBatchSoon(t *testing.T) {
	s := &sink{}
	log, w := newLogger(s)
	defer w.Close()
	for i := range 100 {
		log.Info("request", "n", i)
	}
	if got := s.String(); got != "" {
		t.Fatalf("written at once: %q", got)
	}
	deadline := time.Now().Add(10 * logbuf.Every)
	for strings.Count(s.String(), "\n") < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d lines of 100 written", 10*logbuf.Every, strings.Count(s.String(), "\n"))
		}
		time.Sleep(logbuf.Every / 10)
	}
	if n := s.Writes(); n != 1 {
		t.Errorf("100 lines took %d writes, want 1", n)
	}
}

// A warning or an error is written at once, after the lines logged before it.
func TestWarningsAreWrittenAtOnceInOrder(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelError} {
		s := &sink{}
		log, w := newLogger(s)
		log.Info("first")
		log.Debug("not logged")
		log.Info("second")
		log.Log(context.Background(), level, "trouble")
		got := s.String()
		iFirst, iSecond, iTrouble := strings.Index(got, "msg=first"), strings.Index(got, "msg=second"), strings.Index(got, "msg=trouble")
		if iFirst < 0 || iSecond < iFirst || iTrouble < iSecond {
			t.Errorf("%s: written at once %q, want first, second, trouble in order", level, got)
		}
		// Loggers derived with attributes and groups flush too.
		log.With("k", "v").WithGroup("g").Info("third")
		log.With("k", "v").WithGroup("g").Log(context.Background(), level, "again")
		if got := s.String(); !strings.Contains(got, "msg=third") || !strings.Contains(got, "msg=again") {
			t.Errorf("%s through With and WithGroup: %q", level, got)
		}
		w.Close()
	}
}

// Close writes what waits; later lines go straight through.
func TestCloseWritesWhatWaits(t *testing.T) {
	s := &sink{}
	log, w := newLogger(s)
	log.Info("waiting")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.String(), "msg=waiting") {
		t.Fatalf("after Close: %q", s.String())
	}
	log.Info("after close")
	if !strings.Contains(s.String(), `msg="after close"`) {
		t.Errorf("a line after Close waited: %q", s.String())
	}
}

// A burst is written each time it fills the buffer, not held in memory.
func TestABurstIsWrittenWhenTheBufferIsFull(t *testing.T) {
	s := &sink{}
	w := logbuf.New(s)
	defer w.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for range 200 { // 200 KiB
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.String()); n < 128<<10 {
		t.Errorf("%d bytes of 200 KiB written before the interval, want the buffer's worth each time it filled", n)
	}
}

// Lines from many goroutines arrive whole, each once.
func TestConcurrentLinesArriveWhole(t *testing.T) {
	s := &sink{}
	log, w := newLogger(s)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("line", "g", g, "i", i, "pad", strings.Repeat("p", 100))
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(s.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var g, i int
		at := strings.Index(l, " g=")
		if at < 0 || !strings.HasSuffix(l, strings.Repeat("p", 100)) {
			t.Fatalf("a line came apart: %q", l)
		}
		if _, err := fmt.Sscanf(l[at:], " g=%d i=%d", &g, &i); err != nil {
			t.Fatalf("a line came apart: %q: %v", l, err)
		}
		seen[fmt.Sprint(g, i)] = true
	}
	if len(seen) != 8*500 {
		t.Errorf("%d distinct lines, want %d", len(seen), 8*500)
	}
}
