//go:build unix

package argon2hash

import (
	"context"
	"os"
	"runtime"
	"testing"
)

// BenchmarkVerifyConcurrently verifies the default parameters from twice as
// many goroutines as CPUs, the hashes run here or in a worker process:
// the two ns/op compare what the worker costs (its pipes, its own runtime).
func BenchmarkVerifyConcurrently(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"in-process", nil},
		{"worker", []Option{WithProcess(self, 0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			h, err := New(DefaultParams, runtime.GOMAXPROCS(0), bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			hash, err := h.Hash(ctx, "a password")
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if ok, _, err := h.Verify(ctx, "a password", hash); err != nil || !ok {
						b.Errorf("Verify = %v, %v", ok, err)
						return
					}
				}
			})
		})
	}
}
