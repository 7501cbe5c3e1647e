package argon2hash

import "syscall"

// lowerThreadPriority sets the niceness of the calling thread (Linux gives
// each thread its own). Lowering a priority needs no privilege; a failure
// only means hashes run at the usual priority.
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// threadNice reports the niceness of the calling thread, for tests.
func threadNice() (int, error) {
	// getpriority returns 20 - nice for PRIO_PROCESS on Linux.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - p, err
}
