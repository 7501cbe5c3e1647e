//go:build !linux

package argon2hash

import (
	"errors"
	"os/exec"
)

// startAtNiceness starts cmd and returns a channel closed when it has
// exited. Elsewhere than on Linux it runs at the usual priority.
func startAtNiceness(cmd *exec.Cmd, _ int) (<-chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return exited, nil
}

func processNice(int) (int, error) { return 0, errors.New("no process priority on this system") }
