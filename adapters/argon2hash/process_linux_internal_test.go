//go:build linux

package argon2hash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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
	pid := h.procs[0].workerPID()
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
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(h.procs[0].workerPID()), "environ"))
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

// With no more lanes than CPUs, each lane's worker is bound to a CPU of
// its own, one this process may run on.
func TestProcessLanesHaveACPUEach(t *testing.T) {
	allowed := ownCPUs(t)
	n := min(2, len(allowed))
	h := newProcessHasher(t, n, 0)
	seen := map[string]bool{}
	for i, p := range h.procs {
		// Each lane directly: through the hasher, one lane could serve all.
		if _, err := p.call(workerRequest{Op: opCreate, Password: "a password", Params: *h.params}); err != nil {
			t.Fatal(err)
		}
		got, err := cpusAllowed(p.workerPID())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !slices.Contains(allowed, got[0]) || seen[got[0]] {
			t.Errorf("lane %d runs on CPUs %v; want one of %v of its own", i, got, allowed)
		}
		if len(got) == 1 {
			seen[got[0]] = true
		}
	}
}

func TestLaneCPUs(t *testing.T) {
	allowed := ownCPUs(t)
	unbound := func(cpus []int) bool {
		return !slices.ContainsFunc(cpus, func(c int) bool { return c != -1 })
	}
	n := len(allowed)
	if got := laneCPUs(n, 1); len(got) != n || slices.Contains(got, -1) || len(slices.Compact(slices.Sorted(slices.Values(got)))) != n {
		t.Errorf("laneCPUs(%d CPUs, 1) = %v, want each lane a CPU of its own", n, got)
	}
	if got := laneCPUs(n+1, 1); len(got) != n+1 || !unbound(got) {
		t.Errorf("laneCPUs(more lanes than CPUs) = %v, want none bound", got)
	}
	if got := laneCPUs(1, 2); len(got) != 1 || !unbound(got) {
		t.Errorf("laneCPUs(parallelism 2) = %v, want none bound", got)
	}
}

// ownCPUs lists the CPUs this thread may run on. Not this process's
// first thread's, from /proc: a goroutine that started a worker may have
// ended on it, leaving it bound to the worker's CPU and never to run Go
// code again.
func ownCPUs(t *testing.T) []string {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []string
	for c := 0; len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, strconv.Itoa(c))
		}
	}
	return cpus
}

// cpusAllowed lists the CPUs process pid may run on, from /proc.
func cpusAllowed(pid int) ([]string, error) {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(status)) {
		if list, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			var cpus []string
			for part := range strings.SplitSeq(strings.TrimSpace(list), ",") {
				lo, hi, isRange := strings.Cut(part, "-")
				if !isRange {
					cpus = append(cpus, lo)
					continue
				}
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("Cpus_allowed_list %q", list)
				}
				for c := a; c <= b; c++ {
					cpus = append(cpus, strconv.Itoa(c))
				}
			}
			return cpus, nil
		}
	}
	return nil, errors.New("no Cpus_allowed_list")
}
