//go:build linux && (amd64 || arm64)

package argon2hash

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// An argon2id hash fills HASH_MEMORY_KIB with blocks, then reads them back
// in an order that depends on the data. In 4 KiB pages the default 19 MiB
// is about 4,900 pages, far more than the CPU's TLB holds, so most of
// those reads miss it; in 2 MiB pages it is ten. Where transparent huge
// pages are given only to memory that asks for them (the "madvise"
// setting, the default of many distributions) the Go heap never asks, so
// the hash worker, a process that does nothing but hash, asks for its own
// heap: each login's hash then costs about 4 % less CPU (measured beside
// the same build without, scripts/login-ab.sh). The price is memory: the
// runtime returns freed memory in 4 KiB pieces, which the kernel may merge
// back into huge pages, so after a burst of logins the worker may keep
// about what it peaked at (HASH_CONCURRENCY times HASH_MEMORY_KIB) rather
// than shrink. Go stopped asking for huge pages itself for that reason
// (golang/go#63334); for a process that only hashes, whose peak is bounded
// and comes back with the next burst, the trade is worth it. The
// service's own process does not ask.

const (
	madvHugePage = 14 // MADV_HUGEPAGE
	// heapWindow: on 64-bit Linux the runtime maps its heap arenas upward
	// from one hint (0xc000000000), far from where the kernel puts other
	// mappings; the anonymous writable mappings in the same
	// heapWindow-aligned window as a heap object are the heap.
	heapWindow = 64 << 30
	// hugePage: a smaller mapping cannot hold one.
	hugePage = 2 << 20
)

// heapAdvice is which heap mappings have been advised, and when the last
// look was.
var heapAdvice struct {
	sync.Mutex
	last    time.Time
	advised map[[2]uintptr]bool
}

// adviseHugePages asks for huge pages for the heap's mappings not yet
// advised, looking at most once a second: the heap grows by mapping new
// arenas, each a mapping of its own. It is a hint: where it fails, or
// huge pages are off, nothing changes but the speed.
func adviseHugePages() {
	heapAdvice.Lock()
	defer heapAdvice.Unlock()
	if time.Since(heapAdvice.last) < time.Second {
		return
	}
	heapAdvice.last = time.Now()
	for _, m := range heapMappings() {
		if heapAdvice.advised[m] {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m[0], m[1]-m[0], madvHugePage); e == 0 {
			if heapAdvice.advised == nil {
				heapAdvice.advised = make(map[[2]uintptr]bool)
			}
			heapAdvice.advised[m] = true
		}
	}
}

// heapMappings are the ranges of the Go heap's mappings large enough for
// a huge page, from /proc/self/maps.
func heapMappings() [][2]uintptr {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	probe := reflect.ValueOf(new([64]byte)).Pointer() // escapes: a heap object
	var out [][2]uintptr
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		lo, hi, ok := anonymousWritable(sc.Bytes())
		if ok && hi-lo >= hugePage && lo/heapWindow == probe/heapWindow {
			out = append(out, [2]uintptr{lo, hi})
		}
	}
	return out
}

// anonymousWritable parses a line of /proc/self/maps and reports the range
// of an anonymous, private, writable mapping.
func anonymousWritable(line []byte) (lo, hi uintptr, ok bool) {
	f := bytes.Fields(line)
	if len(f) != 5 || string(f[1]) != "rw-p" {
		return 0, 0, false // a sixth field names a file, [stack], [heap]…
	}
	r := bytes.SplitN(f[0], []byte("-"), 2)
	if len(r) != 2 {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(string(r[0]), 16, 64)
	h, err2 := strconv.ParseUint(string(r[1]), 16, 64)
	if err1 != nil || err2 != nil || h <= l {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
