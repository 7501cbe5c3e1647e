//go:build !linux || !(amd64 || arm64)

package argon2hash

// adviseHugePages does nothing but on Linux on amd64 or arm64, the only
// places where hugepages_linux.go knows where the heap lies.
func adviseHugePages() {}
