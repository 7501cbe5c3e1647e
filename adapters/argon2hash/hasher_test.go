package argon2hash_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/argon2hash"
	"github.com/usersvc/usersvc/domain"
)

// cheap are the smallest parameters New accepts: fast enough for tests.
var cheap = argon2hash.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

func newHasher(tb testing.TB, p argon2hash.Params, opts ...argon2hash.Option) *argon2hash.Hasher {
	tb.Helper()
	h, err := argon2hash.New(p, 2, opts...)
	if err != nil {
		tb.Fatalf("New(%+v): %v", p, err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, cheap)
	hash, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash = %q, want a PHC argon2id string with m=1024,t=1,p=1", hash)
	}
	if strings.Contains(hash, "correct horse") {
		t.Error("the hash contains the password")
	}
	other, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if other == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"", false},
	} {
		ok, stale, err := h.Verify(ctx, tc.password, hash)
		if err != nil {
			t.Fatalf("Verify(%q): %v", tc.password, err)
		}
		if ok != tc.want || stale {
			t.Errorf("Verify(%q) = ok %v, stale %v; want ok %v, stale false", tc.password, ok, stale, tc.want)
		}
	}
}

func TestVerifyReportsStaleParameters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newHasher(t, cheap)
	hash, err := old.Hash(ctx, "s3cret-enough")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []argon2hash.Params{
		{MemoryKiB: 2048, Iterations: 1, Parallelism: 1},
		{MemoryKiB: 1024, Iterations: 2, Parallelism: 1},
		{MemoryKiB: 1024, Iterations: 1, Parallelism: 2},
	} {
		ok, stale, err := newHasher(t, p).Verify(ctx, "s3cret-enough", hash)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if !ok || !stale {
			t.Errorf("hasher %+v: Verify = ok %v, stale %v; want true, true", p, ok, stale)
		}
	}
}

func TestVerifyCorruptHash(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	for _, hash := range []string{
		"",
		"plaintext",
		"$argon2id$v=19$m=1024,t=1,p=1$notbase64!$alsonot!",
		"$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$2b$12$short", // bcrypt hashes verify as bcrypt (imported_test.go); a truncated one is corrupt
		"$1$md5crypt$abcdefghijklmnopqrstuv",
	} {
		ok, _, err := h.Verify(context.Background(), "whatever", hash)
		if err == nil || ok {
			t.Errorf("Verify(corrupt %q) = ok %v, err %v; want an error", hash, ok, err)
		}
		if errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("Verify(corrupt %q) = %v: a corrupt hash is not a transient failure", hash, err)
		}
	}
}

func TestNewValidatesParameters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		p           argon2hash.Params
		concurrency int
		opts        []argon2hash.Option
	}{
		{"memory below 1 MiB", argon2hash.Params{MemoryKiB: 1023, Iterations: 1, Parallelism: 1}, 1, nil},
		{"memory below 8 KiB per lane", argon2hash.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 200}, 1, nil},
		{"no iterations", argon2hash.Params{MemoryKiB: 1024, Iterations: 0, Parallelism: 1}, 1, nil},
		{"no parallelism", argon2hash.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 0}, 1, nil},
		{"no concurrency", cheap, 0, nil},
		{"negative concurrency", cheap, -1, nil},
		{"negative queue", cheap, 1, []argon2hash.Option{argon2hash.WithMaxWaiting(-1)}},
		{"zero wait", cheap, 1, []argon2hash.Option{argon2hash.WithMaxWait(0)}},
		{"negative wait", cheap, 1, []argon2hash.Option{argon2hash.WithMaxWait(-time.Second)}},
	} {
		if h, err := argon2hash.New(tc.p, tc.concurrency, tc.opts...); err == nil || h != nil {
			t.Errorf("%s: New = %v, %v; want an error", tc.name, h, err)
		}
	}
	for _, opts := range [][]argon2hash.Option{
		nil,
		{argon2hash.WithMaxWaiting(0)},
		{argon2hash.WithMaxWaiting(1), argon2hash.WithMaxWait(time.Millisecond)},
	} {
		if _, err := argon2hash.New(argon2hash.DefaultParams, 1, opts...); err != nil {
			t.Errorf("New(DefaultParams, 1, %d options): %v", len(opts), err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "s3cret-enough"); !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context: %v; want ErrUnavailable and context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "s3cret-enough", "$argon2id$v=19$m=1024,t=1,p=1$x$y"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context: %v; want context.Canceled", err)
	}
}

func BenchmarkHash(b *testing.B) {
	h, err := argon2hash.New(argon2hash.DefaultParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, err := argon2hash.New(argon2hash.DefaultParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", hash); err != nil || !ok {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}
