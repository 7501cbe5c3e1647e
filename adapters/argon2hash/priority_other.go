//go:build !linux

package argon2hash

import "os/exec"

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
