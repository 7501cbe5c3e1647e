package argon2hash

import (
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWorker starts cmd at niceness nice, bound to CPU cpu (-1: any), and
// returns a channel closed when it has exited. Linux gives each thread its
// own niceness and CPU affinity, and a new process takes those of the
// thread that forks it, as do all the threads it makes in turn: so cmd is
// started from a thread of its own, set first. That thread then waits for
// cmd and ends with it, its settings never going back to the runtime.
// Neither setting needs a privilege; if one fails, cmd runs without it.
// Bound to one CPU, the worker's Go runtime sizes itself to it
// (GOMAXPROCS 1), unless GOMAXPROCS says otherwise.
func startWorker(cmd *exec.Cmd, nice, cpu int) (<-chan struct{}, error) {
	started := make(chan error, 1)
	exited := make(chan struct{})
	// A group of its own: signals sent to the service's group (Ctrl-C)
	// are the service's to act on; it ends the worker by closing its input.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	go func() {
		// Never unlocked: the thread ends when this goroutine does.
		runtime.LockOSThread()
		if nice != 0 {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
		}
		if cpu >= 0 {
			var set unix.CPUSet
			set.Set(cpu)
			_ = unix.SchedSetaffinity(0, &set) // 0: this thread
		}
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}

// laneCPUs returns the CPU each of n hash lanes is bound to: each its own
// of the CPUs this process may run on, when there are enough of them and
// a hash runs one argon2 lane (parallelism 1); otherwise -1 for all (the
// operating system places them), since lanes bound to a shared CPU, or a
// hash whose argon2 lanes could run side by side bound to one, would be
// slower than left to move.
func laneCPUs(n int, parallelism uint8) []int {
	cpus := make([]int, n)
	for i := range cpus {
		cpus[i] = -1
	}
	var set unix.CPUSet
	if parallelism != 1 || unix.SchedGetaffinity(0, &set) != nil || set.Count() < n {
		return cpus
	}
	lane := 0
	for cpu := 0; lane < n; cpu++ { // ends: set holds at least n CPUs
		if set.IsSet(cpu) {
			cpus[lane] = cpu
			lane++
		}
	}
	return cpus
}
