//go:build unix

package argon2hash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usersvc/usersvc/domain"
)

// lowest is the niceness of HASH_PRIORITY=low.
const lowest = 19

var tiny = Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

func newProcessHasher(t *testing.T, concurrency, nice int) *Hasher {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(tiny, concurrency, WithProcess(self, nice))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func (p *process) workerPID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.proc.Pid
}

// current is the worker running now, if any.
func (p *process) current() *worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func TestProcessHashesAndChecks(t *testing.T) {
	ctx := context.Background()
	h := newProcessHasher(t, 2, 0)
	hash, err := h.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, stale, err := h.Verify(ctx, "a password", hash); err != nil || !ok || stale {
		t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, stale, err)
	}
	if ok, _, err := h.Verify(ctx, "another password", hash); err != nil || ok {
		t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
	}
	older, err := New(Params{MemoryKiB: 2048, Iterations: 1, Parallelism: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := older.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, stale, err := h.Verify(ctx, "a password", oldHash); err != nil || !ok || !stale {
		t.Errorf("Verify(other parameters) = %v, %v, %v; want true, true, nil", ok, stale, err)
	}
	b, err := bcrypt.GenerateFromPassword([]byte("a password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, stale, err := h.Verify(ctx, "a password", string(b)); err != nil || !ok || !stale {
		t.Errorf("Verify(bcrypt) = %v, %v, %v; want true, true, nil", ok, stale, err)
	}
	if _, _, err := h.Verify(ctx, "a password", "$argon2id$corrupt"); err == nil {
		t.Error("a corrupt hash verified without an error")
	}
}

// Hashes sent together are answered each to its own caller.
func TestProcessAnswersConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	h := newProcessHasher(t, 3, 0)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			pw := "password number " + strconv.Itoa(i)
			hash, err := h.Hash(ctx, pw)
			if err != nil {
				t.Error(err)
				return
			}
			ok, _, err := h.Verify(ctx, pw, hash)
			if err != nil || !ok {
				t.Errorf("%s: Verify = %v, %v", pw, ok, err)
			}
			if ok, _, _ := h.Verify(ctx, pw+"!", hash); ok {
				t.Errorf("%s: another password matched", pw)
			}
		})
	}
	wg.Wait()
}

// A worker that dies is replaced by the next hash.
func TestProcessRestartsAfterTheWorkerDies(t *testing.T) {
	ctx := context.Background()
	h := newProcessHasher(t, 1, 0)
	if _, err := h.Hash(ctx, "a password"); err != nil {
		t.Fatal(err)
	}
	w := h.proc.current()
	pid := w.proc.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.exited
	var hash string
	var err error
	// Until restartGap has passed since the last start, hashes fail as
	// unavailable rather than fork again; then one starts a new worker.
	deadline := time.Now().Add(restartGap + 5*time.Second)
	for time.Now().Before(deadline) {
		if hash, err = h.Hash(ctx, "a password"); err == nil {
			break
		}
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Hash after the worker died: %v, want ErrUnavailable or success", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no new worker: %v", err)
	}
	if ok, _, err := h.Verify(ctx, "a password", hash); err != nil || !ok {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	if got := h.proc.workerPID(); got == pid || got == 0 {
		t.Errorf("worker pid %d after the restart, was %d", got, pid)
	}
}

// A hash running when the worker dies fails as unavailable (503), not as
// a wrong password.
func TestProcessHashLostWithTheWorkerIsUnavailable(t *testing.T) {
	ctx := context.Background()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A hash long enough to be killed in the middle of.
	h, err := New(Params{MemoryKiB: 64 << 10, Iterations: 50, Parallelism: 1}, 1, WithProcess(self, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "a password")
		errc <- err
	}()
	var pid int
	for pid == 0 {
		pid = h.proc.workerPID()
		runtime.Gosched()
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Hash while the worker died: %v, want ErrUnavailable", err)
	}
}

// A worker that answers nothing (stopped here) is killed after
// callTimeout: the hash fails as unavailable instead of holding its slot.
func TestProcessStuckWorkerIsKilled(t *testing.T) {
	defer func(d time.Duration) { callTimeout = d }(callTimeout)
	callTimeout = 300 * time.Millisecond
	h := newProcessHasher(t, 1, 0)
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Fatal(err)
	}
	w := h.proc.current()
	if err := syscall.Kill(w.proc.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The stop takes effect when the worker's threads next run, which on
	// a busy machine is after kill returns: until then it still answers.
	waitStopped(t, w.proc.Pid)
	if _, err := h.Hash(context.Background(), "a password"); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Hash on a stopped worker: %v, want ErrUnavailable", err)
	}
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		t.Error("the stuck worker was not killed")
	}
}

// waitStopped waits until every thread of process pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/task"); err != nil {
		time.Sleep(200 * time.Millisecond) // no /proc to ask (not Linux)
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
		if err != nil {
			t.Fatal(err)
		}
		stopped := 0
		for _, task := range tasks {
			stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", task.Name(), "stat"))
			// The state follows the command in parentheses: "pid (comm) T ...".
			if i := bytes.LastIndexByte(stat, ')'); err == nil && i > 0 && i+2 < len(stat) && stat[i+2] == 'T' {
				stopped++
			}
		}
		if len(tasks) > 0 && stopped == len(tasks) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d: %d of %d threads stopped after 10 s", pid, stopped, len(tasks))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close ends the worker; the hasher then refuses as unavailable.
func TestProcessClose(t *testing.T) {
	h := newProcessHasher(t, 1, 0)
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Fatal(err)
	}
	exited := h.proc.current().exited
	h.Close()
	select {
	case <-exited:
	default:
		t.Error("the worker still runs after Close")
	}
	if _, err := h.Hash(context.Background(), "a password"); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Hash after Close: %v, want ErrUnavailable", err)
	}
}
