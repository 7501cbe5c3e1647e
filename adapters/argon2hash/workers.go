package argon2hash

import "runtime"

// workers run hashes on threads of their own at a low scheduling priority
// (where the system allows it: see lowerThreadPriority). Under a login flood
// the hashes then take only the CPU that requests do not want, so reads stay
// fast; with no other load they take it all, so logins lose nothing. Each
// worker keeps its thread for good: the priority is never raised back, which
// an unprivileged process may not do.
type workers struct {
	jobs chan func()
}

// niceness is the priority hash threads run at: the lowest.
const niceness = 19

// newWorkers starts n workers.
func newWorkers(n int) *workers {
	w := &workers{jobs: make(chan func())}
	for range n {
		go w.loop()
	}
	return w
}

func (w *workers) loop() {
	// Never unlocked: when the loop ends the thread ends with it, rather
	// than going back to the runtime with a low priority.
	runtime.LockOSThread()
	lowerThreadPriority(niceness)
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
