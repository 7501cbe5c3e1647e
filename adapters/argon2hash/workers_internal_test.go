package argon2hash

import "testing"

// A panic in a hash reaches the caller, and the worker goes on.
func TestWorkersRaisePanicsInTheCaller(t *testing.T) {
	w := newWorkers(1, 0)
	defer w.stop()
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("the panic did not reach the caller")
			}
		}()
		w.run(func() { panic("boom") })
	}()
	ran := false
	w.run(func() { ran = true })
	if !ran {
		t.Error("the worker stopped after a panic")
	}
}
