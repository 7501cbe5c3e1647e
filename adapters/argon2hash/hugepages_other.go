//go:build !linux

package argon2hash

// adviseHugePages does nothing elsewhere than on Linux.
func adviseHugePages() {}
