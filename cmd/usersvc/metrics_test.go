package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestServeMetrics boots the program and reads /metrics as a scraper
// would: the HTTP edge, the hasher, the outbox, the Go runtime and the
// process are all wired into one registry.
func TestServeMetrics(t *testing.T) {
	addr := freeAddr(t)
	env := map[string]string{
		"HTTP_ADDR":       addr,
		"DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"ADMIN_EMAIL":     "root@example.com",
		"ADMIN_PASSWORD":  "a long admin passphrase",
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &bytes.Buffer{}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not return after its context ended")
		}
	})

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", stderr.String())
		}
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	want := []string{
		`usersvc_http_requests_total{method="GET",route="/readyz",status="200"}`,
		`usersvc_http_requests_in_flight 1`,
		`usersvc_logins_total{outcome="success"} 0`,
		`usersvc_password_hashes_running 0`,
		`usersvc_password_hashes_waiting 0`,
		`usersvc_outbox_pending 0`,
		`usersvc_outbox_failed 0`,
		`usersvc_outbox_count_errors_total 0`,
		`go_goroutines `,
	}
	if runtime.GOOS == "linux" {
		want = append(want, "process_resident_memory_bytes ")
	}
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics has no %q", s)
		}
	}
	if regexp.MustCompile(`root@|example\.com`).MatchString(body) {
		t.Error("/metrics shows the admin's email")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
