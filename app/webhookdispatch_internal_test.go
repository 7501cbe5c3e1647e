package app

import (
	"testing"
	"time"
)

// TestRetryDelay: exponential from RetryMin, jittered, always within
// RetryMin..RetryMax.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	lo, hi := 5*time.Second, time.Hour
	for attempt := 1; attempt <= 20; attempt++ {
		base := min(lo<<min(attempt-1, 30), hi)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := retryDelay(attempt, lo, hi)
			if d < lo || d > hi {
				t.Fatalf("attempt %d: delay %v outside %v..%v", attempt, d, lo, hi)
			}
			if base < hi && (d < base || d > base+base/2) {
				t.Fatalf("attempt %d: delay %v outside %v..%v", attempt, d, base, base+base/2)
			}
			if base == hi && d < hi-hi/4 {
				t.Fatalf("attempt %d: delay %v below %v", attempt, d, hi-hi/4)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter (%v)", attempt, seen)
		}
	}
	if d := retryDelay(3, time.Second, time.Second); d != time.Second {
		t.Errorf("with RetryMin = RetryMax, delay %v", d)
	}
}
