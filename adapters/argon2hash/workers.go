package argon2hash

import "runtime"

// workers run hashes on threads of their own, at a chosen scheduling
// priority (where the system allows it: see lowerThreadPriority). With
// more Ps than CPUs, a running hash holds a thread, not the Ps requests
// need; at a low priority the hashes also take only the CPU that requests
// do not want. Each worker keeps its thread for good: a lowered priority is
// never raised back, which an unprivileged process may not do.
type workers struct {
	jobs chan func()
	nice int
}

// newWorkers starts n workers at niceness nice.
func newWorkers(n, nice int) *workers {
	w := &workers{jobs: make(chan func()), nice: nice}
	for range n {
		go w.loop()
	}
	return w
}

func (w *workers) loop() {
	// Never unlocked: when the loop ends the thread ends with it, rather
	// than going back to the runtime with another priority.
	runtime.LockOSThread()
	if w.nice != 0 {
		lowerThreadPriority(w.nice)
	}
	for job := range w.jobs {
		job()
	}
}

// run runs fn on a worker and waits for it; a panic in fn is raised again
// in the caller, and the worker goes on.
func (w *workers) run(fn func()) {
	done := make(chan any, 1)
	w.jobs <- func() {
		defer func() { done <- recover() }()
		fn()
	}
	if p := <-done; p != nil {
		panic(p)
	}
}

// stop ends the workers (and their threads) once the jobs sent are done.
func (w *workers) stop() { close(w.jobs) }
