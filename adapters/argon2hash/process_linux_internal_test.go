//go:build linux

package argon2hash

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

// Every thread of the worker runs at the niceness asked; this process's
// threads keep their own. (Run already at the lowest priority, the tests
// still check both: the worker's threads at it, this thread unchanged.)
func TestProcessRunsAtLowPriority(t *testing.T) {
	own, err := processNice(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	h := newProcessHasher(t, 2, lowest)
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Fatal(err)
	}
	pid := h.proc.workerPID()
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if n, err := processNice(tid); err != nil || n != lowest {
			t.Errorf("worker thread %d has niceness %d (%v), want %d", tid, n, err, lowest)
		}
	}
	if len(tasks) < 2 {
		t.Errorf("the worker has %d threads: a Go program has more", len(tasks))
	}
	// This thread, which runs Go code, keeps its priority; so do all but
	// the one that started the worker, which waits for it and ends with it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n, err := processNice(syscall.Gettid()); err != nil || n != own {
		t.Errorf("this thread has niceness %d (%v), want the process's own %d", n, err, own)
	}
}

// The worker sees none of the service's environment (its secrets).
func TestProcessGetsNoEnvironment(t *testing.T) {
	t.Setenv("JWT_SECRET", "a secret the worker must not see")
	t.Setenv("GOMEMLIMIT", "512MiB")
	h := newProcessHasher(t, 1, 0)
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(h.proc.workerPID()), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(env); got != "GOMEMLIMIT=512MiB\x00" {
		t.Errorf("the worker's environment is %q, want the runtime's settings alone", got)
	}
}

// processNice reports the niceness of process (or thread) pid.
func processNice(pid int) (int, error) {
	// getpriority returns 20 - nice for PRIO_PROCESS on Linux.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, pid)
	return 20 - p, err
}
