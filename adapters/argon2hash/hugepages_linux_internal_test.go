//go:build linux && (amd64 || arm64)

package argon2hash

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAnonymousWritable(t *testing.T) {
	for _, c := range []struct {
		line   string
		lo, hi uintptr
		ok     bool
	}{
		{"c000000000-c004000000 rw-p 00000000 00:00 0", 0xc000000000, 0xc004000000, true},
		{"c000000000-c004000000 rw-p 00000000 00:00 0 ", 0xc000000000, 0xc004000000, true},
		{"7ffd1000-7ffd3000 rw-p 00000000 00:00 0                          [stack]", 0, 0, false},
		{"00400000-00452000 rw-p 00000000 08:02 173521      /usr/bin/usersvc", 0, 0, false},
		{"c000000000-c004000000 r--p 00000000 00:00 0", 0, 0, false},
		{"c000000000-c004000000 rw-s 00000000 00:00 0", 0, 0, false},
		{"c004000000-c000000000 rw-p 00000000 00:00 0", 0, 0, false},
		{"zz-c000000000 rw-p 00000000 00:00 0", 0, 0, false},
		{"", 0, 0, false},
	} {
		lo, hi, ok := anonymousWritable([]byte(c.line))
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("anonymousWritable(%q) = %#x, %#x, %v; want %#x, %#x, %v", c.line, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

// The heap's mappings are found: a large object lies in one of them.
func TestHeapMappingsHoldTheHeap(t *testing.T) {
	big := make([]byte, 8<<20)
	at := reflect.ValueOf(big).Pointer()
	for _, m := range heapMappings() {
		if m[0] <= at && at < m[1] {
			return
		}
	}
	t.Errorf("no heap mapping holds an object at %#x: %#x", at, heapMappings())
}

// The worker asks for huge pages for its heap, where the hash's memory is.
// Where the kernel has transparent huge pages, the worker asks for them
// for its heap, where the hash's memory is; where it has none, the advice
// is refused and nothing is flagged, and the worker hashes all the same.
func TestWorkerAsksForHugePages(t *testing.T) {
	_, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled")
	thp := err == nil
	h := newProcessHasher(t, 1, 0)
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Fatal(err)
	}
	smaps := filepath.Join("/proc", strconv.Itoa(h.proc.workerPID()), "smaps")
	// The advice follows the answer.
	deadline := time.Now().Add(10 * time.Second)
	if !thp {
		deadline = time.Now().Add(time.Second)
	}
	n := 0
	for {
		if n, err = hugePageAdvisedMappings(smaps); err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if thp && n == 0 {
		t.Errorf("no mapping of the worker's has asked for huge pages (%s)", smaps)
	}
	if !thp && n > 0 {
		t.Errorf("%d mappings flagged for huge pages on a kernel without them", n)
	}
	if _, err := h.Hash(context.Background(), "another password"); err != nil {
		t.Errorf("the worker after its advice: %v", err)
	}
	// The service's own process keeps its heap in small pages.
	if n, err := hugePageAdvisedMappings("/proc/self/smaps"); err != nil || n != 0 {
		t.Errorf("this process has %d mappings advised for huge pages (%v), want none", n, err)
	}
}

// hugePageAdvisedMappings counts the mappings in an smaps file flagged
// "hg" (MADV_HUGEPAGE).
func hugePageAdvisedMappings(smaps string) (int, error) {
	b, err := os.ReadFile(smaps)
	if err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if flags, ok := strings.CutPrefix(sc.Text(), "VmFlags:"); ok && strings.Contains(" "+flags+" ", " hg ") {
			n++
		}
	}
	return n, sc.Err()
}
