package argon2hash

import (
	"context"
	"github.com/alexedwards/argon2id"
	"runtime"
	"testing"
)

// lowest is the niceness of HASH_PRIORITY=low.
const lowest = 19

// With WithThreads(19), hashes run on threads of the lowest priority, and
// the caller's thread keeps its own.
func TestLowPriorityWorkers(t *testing.T) {
	h, err := New(Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}, 2, WithThreads(lowest))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var niceDuring int
	var niceErr error
	real := h.create
	h.create = func(password string, p *argon2id.Params) (string, error) {
		niceDuring, niceErr = threadNice()
		return real(password, p)
	}
	hash, err := h.Hash(context.Background(), "a password")
	if err != nil {
		t.Fatal(err)
	}
	if niceErr != nil || niceDuring != lowest {
		t.Errorf("the hash ran at niceness %d (%v), want %d", niceDuring, niceErr, lowest)
	}
	ok, _, err := h.Verify(context.Background(), "a password", hash)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n, err := threadNice(); err != nil || n == lowest {
		t.Errorf("the caller's thread has niceness %d (%v): the workers' priority leaked", n, err)
	}
}
