package httpapi

import "testing"

// TestRouteLimitsCoverEveryBucket keeps routeLimits in step with
// limitTable: every bucket's 429s are counted under its own name.
// (TestMetricsRateLimitedRoutes checks the routes named exist.)
func TestRouteLimitsCoverEveryBucket(t *testing.T) {
	t.Parallel()
	named := map[string]bool{}
	for _, b := range routeLimits {
		named[b] = true
	}
	for b := range limitTable {
		if !named[b] {
			t.Errorf("rate-limit bucket %q has no route in routeLimits: its 429s would count as \"other\"", b)
		}
	}
}
