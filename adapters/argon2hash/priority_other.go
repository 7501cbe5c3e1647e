//go:build !linux

package argon2hash

import "os/exec"

// startWorker starts cmd and returns a channel closed when it has
// exited. Elsewhere than on Linux it runs at the usual priority, on any CPU.
func startWorker(cmd *exec.Cmd, _, _ int) (<-chan struct{}, error) {
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

// laneCPUs binds no lane to a CPU elsewhere than on Linux.
func laneCPUs(n int, _ uint8) []int {
	cpus := make([]int, n)
	for i := range cpus {
		cpus[i] = -1
	}
	return cpus
}
