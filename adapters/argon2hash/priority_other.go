//go:build !linux

package argon2hash

import "errors"

// lowerThreadPriority does nothing where threads have no priority of their
// own that an unprivileged process may lower.
func lowerThreadPriority(int) {}

func threadNice() (int, error) { return 0, errors.New("no per-thread priority on this system") }
