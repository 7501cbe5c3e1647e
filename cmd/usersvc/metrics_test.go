package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestServeMetrics boots the program and reads /metrics as a scraper
// would: the HTTP edge, the hasher, the outbox, the Go runtime and the
// process are all wired into one registry.
func TestServeMetrics(t *testing.T) {
	s := startServer(t, map[string]string{
		"DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"ADMIN_EMAIL":     "root@example.com",
		"ADMIN_PASSWORD":  "a long admin passphrase",
	})
	code, body := httpGet(t, s.base+"/metrics", "")
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
