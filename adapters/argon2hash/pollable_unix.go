//go:build unix

package argon2hash

import (
	"os"
	"syscall"
)

// pollable is f read through the runtime's poller. A worker's standard
// input is a blocking pipe: a read waiting on it would hold one of the
// Ps (with two CPUs, half of them) until the runtime noticed and took it
// back, up to 10 ms later, while hashes wait for it (measured: two
// concurrent hashes ran a sixth slower). A file that is not a pipe or
// cannot be switched is returned as it is.
func pollable(f *os.File) *os.File {
	fd := int(f.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		return f
	}
	return os.NewFile(uintptr(fd), f.Name())
}
