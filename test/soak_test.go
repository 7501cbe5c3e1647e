//go:build soak

package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// TestSoak runs a steady mixed load (registrations, logins, refreshes,
// reads, listings, logouts) against one instance on PostgreSQL for
// SOAK_DURATION (default 10m) and checks that memory and goroutines stay
// flat: `make soak`, not part of `make test`.
func TestSoak(t *testing.T) {
	dur := 10 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		dur = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
	defer cancel()
	env := baseEnv(t, sqlstoretest.NewPostgresURL(t))
	env["LOG_LEVEL"] = "warn"
	s := startService(t, t.TempDir(), env)
	admin := newClient(s.URL).mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")

	var requests, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c := newClient(s.URL)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				var status int
				switch i % 6 {
				case 0:
					email := fmt.Sprintf("soak-%d-%d@example.com", w, i)
					a, err := c.raw(ctx, http.MethodPost, "/register/", map[string]string{"email": email, "password": "a soaking passphrase"}, nil)
					if err == nil {
						status = a.Status
					}
				case 1:
					tp, a, err := c.passwordLogin(ctx, "admin@example.com", "admin-password-for-e2e")
					status = a.Status
					if err == nil && a.Status == http.StatusOK {
						if _, a, err := c.refresh(ctx, tp.RefreshToken); err != nil || a.Status != http.StatusOK {
							failures.Add(1)
						}
						if a, err := c.withToken(tp.AccessToken).logout(ctx, ""); err != nil || a.Status != http.StatusNoContent {
							failures.Add(1)
						}
					}
				case 2, 3, 4:
					a, err := c.withToken(admin.AccessToken).raw(ctx, http.MethodGet, "/users/me", nil, nil)
					if err == nil {
						status = a.Status
					}
				default:
					a, err := c.withToken(admin.AccessToken).raw(ctx, http.MethodGet, "/users/?limit=20&sort=-created_at&paging=cursor", nil, nil)
					if err == nil {
						status = a.Status
					}
				}
				if status < 200 || status > 299 {
					failures.Add(1)
				}
			}
		})
	}
	type sample struct {
		at         time.Duration
		rssMiB     float64
		goroutines int
	}
	var samples []sample
	start := time.Now()
	take := func() {
		a, err := newClient(s.URL).raw(ctx, http.MethodGet, "/metrics", nil, nil)
		if err != nil {
			t.Errorf("/metrics: %v", err)
			return
		}
		samples = append(samples, sample{
			at:         time.Since(start).Round(time.Second),
			rssMiB:     metricValue(a.Body, "process_resident_memory_bytes") / (1 << 20),
			goroutines: int(metricValue(a.Body, "go_goroutines")),
		})
	}
	time.Sleep(time.Minute / 2) // warm up
	take()
	for time.Since(start) < dur {
		time.Sleep(min(time.Minute, dur/10))
		take()
	}
	close(stop)
	wg.Wait()
	var b strings.Builder
	for _, s := range samples {
		b.WriteString(fmt.Sprintf("  %8s  rss %6.1f MiB  goroutines %4d\n", s.at, s.rssMiB, s.goroutines))
	}
	t.Logf("%d requests, %d failed\n%s", requests.Load(), failures.Load(), b.String())
	first, last := samples[0], samples[len(samples)-1]
	if last.rssMiB > first.rssMiB*1.5+20 {
		t.Errorf("RSS grew from %.1f to %.1f MiB", first.rssMiB, last.rssMiB)
	}
	if last.goroutines > first.goroutines+20 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if f := failures.Load(); f*1000 > requests.Load() {
		t.Errorf("%d of %d requests failed", f, requests.Load())
	}
}
