package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMFinishesLoginsInFlight: on SIGTERM an instance finishes the
// requests it has taken (PRODUCT.md 8.8) and exits 0: 30 logins queued
// behind the password hash all succeed.
func TestSIGTERMFinishesLoginsInFlight(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	inst := startInstances(t, 1, map[string]string{
		// The production hash, so the 30 logins are still queued behind it
		// when SIGTERM arrives.
		"HASH_MEMORY_KIB": "19456", "HASH_ITERATIONS": "8", "HASH_CONCURRENCY": "1",
	})[0]
	const n = 30
	statuses := make(chan int, n)
	for range n {
		go func() {
			_, ans, err := newClient(inst.URL).passwordLogin(ctx, "admin@example.com", "admin-password-for-e2e")
			if err != nil {
				t.Errorf("a login in flight failed: %v", err)
				statuses <- 0
				return
			}
			statuses <- ans.Status
		}()
	}
	waitInFlight(t, ctx, inst, n)
	if err := inst.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range n {
		if s := <-statuses; s == http.StatusOK {
			ok++
		} else if s != 0 {
			t.Errorf("a login in flight answered %d", s)
		}
	}
	if ok != n {
		t.Errorf("%d of %d logins in flight succeeded after SIGTERM", ok, n)
	}
	select {
	case err := <-inst.done:
		inst.done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0\n%s", err, inst.logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no exit 25 s after SIGTERM")
	}
}

// waitInFlight waits until s has taken n logins (besides the metrics
// scrape): in flight, or answered already (usersvc_logins_total), per its
// /metrics (open in development). Then none of them can be refused at the
// door any more.
func waitInFlight(t *testing.T, ctx context.Context, s *service, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ans, err := newClient(s.URL).raw(ctx, http.MethodGet, "/metrics", nil, nil)
		if err == nil {
			taken := metricValue(ans.Body, "usersvc_http_requests_in_flight") - 1 + metricSum(ans.Body, "usersvc_logins_total{")
			if taken >= float64(n) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never %d logins taken", n)
}

// metricSum adds the values of every series whose line starts with prefix.
func metricSum(text, prefix string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				var v float64
				_, _ = fmt.Sscan(line[i+1:], &v)
				sum += v
			}
		}
	}
	return sum
}

func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// balancer is what a load balancer does in front of instances: requests
// go round-robin; one that fails to connect, or whose connection breaks
// before any answer (an instance stopping), goes to the next instance.
type balancer struct {
	backends []string
	next     atomic.Uint64
	retried  atomic.Int64
	client   *http.Client
}

func newBalancer(backends ...string) *balancer {
	return &balancer{backends: backends, client: &http.Client{Timeout: 30 * time.Second}}
}

func (b *balancer) do(ctx context.Context, method, path, contentType string, body []byte, header http.Header) (int, []byte, error) {
	var lastErr error
	first := int(b.next.Add(1))
	for try := range 6 {
		// Round-robin between requests; a request's retries go to each
		// instance in turn, whatever other requests do meanwhile.
		base := b.backends[(first+try)%len(b.backends)]
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := b.client.Do(req)
		if err != nil {
			lastErr = err
			b.retried.Add(1)
			time.Sleep(time.Duration(try*20) * time.Millisecond)
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, data, err
	}
	return 0, nil, fmt.Errorf("every backend failed: %w", lastErr)
}

// TestRollingRestartLosesNoRequest: two instances behind a balancer under
// steady load (registrations, logins, reads), restarted one after the
// other, answer every request; every acknowledged registration is there.
func TestRollingRestartLosesNoRequest(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	inst := startInstances(t, 2, nil)
	lb := newBalancer(inst[0].URL, inst[1].URL)
	admin := newClient(inst[0].URL).mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")
	bearer := http.Header{"Authorization": {"Bearer " + admin.AccessToken}}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var mu sync.Mutex
	var acknowledged []string
	fail := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				switch i % 3 {
				case 0:
					email := fmt.Sprintf("roll-%d-%d@example.com", w, i)
					status, body, err := lb.do(ctx, http.MethodPost, "/register/", "application/json",
						[]byte(`{"email":"`+email+`","password":"a rolling passphrase"}`), nil)
					if err != nil || status != http.StatusOK {
						fail("register %s: %d %v %s", email, status, err, body)
						continue
					}
					mu.Lock()
					acknowledged = append(acknowledged, email)
					mu.Unlock()
				case 1:
					form := url.Values{"username": {"admin@example.com"}, "password": {"admin-password-for-e2e"}}
					status, body, err := lb.do(ctx, http.MethodPost, "/login/", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
					if err != nil || status != http.StatusOK {
						fail("login: %d %v %s", status, err, body)
					}
				default:
					status, body, err := lb.do(ctx, http.MethodGet, "/users/me", "", nil, bearer)
					if err != nil || status != http.StatusOK {
						fail("read: %d %v %s", status, err, body)
					}
				}
			}
		})
	}
	time.Sleep(time.Second)
	for i, s := range inst {
		env := s.env
		s.stop() // SIGTERM, and a clean exit asserted
		time.Sleep(300 * time.Millisecond)
		inst[i] = startService(t, t.TempDir(), env) // the same address
		time.Sleep(700 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed, %d sent again to the other instance", requests.Load(), failures.Load(), lb.retried.Load())

	// Every acknowledged registration is in the database.
	for _, email := range acknowledged {
		var page struct {
			Items []struct{ Email string } `json:"items"`
		}
		if err := newClient(inst[0].URL).withToken(admin.AccessToken).do(ctx, http.MethodGet, "/users/?q="+url.QueryEscape(email), nil, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Errorf("acknowledged registration %s is missing", email)
		}
	}
	if len(acknowledged) == 0 {
		t.Error("no registration was acknowledged")
	}
}
