//go:build unix

// Command hashrate verifies one argon2id hash over and over with a number
// of goroutines for a while, and prints the verifications per second and
// the CPU milliseconds each took: the raw rate a login cannot beat, for
// scripts/login-ab.sh. The parameters default to the service's.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alexedwards/argon2id"
)

func main() {
	m := flag.Uint("m", 19456, "memory in KiB (HASH_MEMORY_KIB)")
	t := flag.Uint("t", 2, "iterations (HASH_ITERATIONS)")
	p := flag.Uint("p", 1, "parallelism (HASH_PARALLELISM)")
	workers := flag.Int("workers", 2, "goroutines verifying at once")
	dur := flag.Duration("dur", 5*time.Second, "how long")
	flag.Parse()
	if *m == 0 || *m > math.MaxUint32 || *t == 0 || *t > math.MaxUint32 || *p == 0 || *p > 255 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "hashrate: -m and -t must be in 1..2^32-1, -p in 1..255, -workers positive")
		os.Exit(2)
	}
	const password = "correct horse battery staple"
	hash, err := argon2id.CreateHash(password, &argon2id.Params{
		Memory: uint32(*m), Iterations: uint32(*t), Parallelism: uint8(*p), //nolint:gosec // bounded above
		SaltLength: 16, KeyLength: 32,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashrate:", err)
		os.Exit(1)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(*dur)
	for range *workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if ok, err := argon2id.ComparePasswordAndHash(password, hash); err != nil || !ok {
					fmt.Fprintln(os.Stderr, "hashrate: the password did not verify:", err)
					os.Exit(1)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	fmt.Printf("%.2f %.2f\n", float64(n.Load())/elapsed.Seconds(), float64(cpu.Microseconds())/1000/float64(max(n.Load(), 1)))
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
