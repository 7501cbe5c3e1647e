// Package logbuf batches a log's writes. With every request logged, a write
// per line (a system call, made while the handler holds its lock, so that
// concurrent requests queue behind it) cost more than the line's
// formatting; written in batches, at most Every apart, a line costs a copy.
// As glog does, what matters is not held back: a record at or above a
// level is written at once, with everything before it, so a warning or an
// error is never lost to a crash that follows it, nor out of order.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Every is how long a line may wait in the buffer.
const Every = 100 * time.Millisecond

// maxBuffered is how much may wait: beyond it the writer writes at once,
// so a burst of lines costs memory only up to here.
const maxBuffered = 64 << 10

// Writer buffers what is written to it and writes it to the underlying
// writer at most Every later, or at once when Flush is called or the
// buffer is full. It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	timer  *time.Timer
	closed bool
}

// New returns a Writer that writes to w.
func New(w io.Writer) *Writer {
	b := &Writer{w: w}
	// Armed by the first line after each write, so an idle log never
	// wakes anything.
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write copies p into the buffer. It returns an error of the underlying
// writer only when it writes at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf) == 0 {
		b.timer.Reset(Every)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= maxBuffered {
		return len(p), b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	// A failed write is dropped, not retried: the log is best effort, as
	// an unbuffered one is.
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > maxBuffered {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// Close writes what is buffered; later writes go straight through.
func (b *Writer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	return b.flushLocked()
}

// FlushAt wraps h, which writes to w, so that a record at level or above
// is written at once, with the lines buffered before it.
func FlushAt(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return flushing{Handler: h, w: w, level: level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{Handler: h.Handler.WithAttrs(attrs), w: h.w, level: h.level}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}
