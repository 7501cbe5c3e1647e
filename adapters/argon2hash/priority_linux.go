package argon2hash

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startAtNiceness starts cmd at niceness nice and returns a channel closed
// when it has exited. Linux gives each thread its own niceness, and a new
// process takes that of the thread that forks it, as do all the threads it
// makes in turn: so cmd is started from a thread of its own, niced first.
// That thread then waits for cmd and ends with it, its priority never
// going back to the runtime. Lowering a priority needs no privilege; if it
// fails, cmd runs at the usual one.
func startAtNiceness(cmd *exec.Cmd, nice int) (<-chan struct{}, error) {
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
