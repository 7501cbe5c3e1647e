package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func productionEnv(t *testing.T) map[string]string {
	return map[string]string{
		"APP_ENV":         "production",
		"DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("p", 32),
		"PUBLIC_BASE_URL": "https://users.example.com",
		"HASH_MEMORY_KIB": "8192",
		"SECRETS_KEY":     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", // 32 bytes
	}
}

// TestMetricsNeedTheTokenInProduction: in production /metrics answers only
// "Authorization: Bearer $METRICS_TOKEN" (401 otherwise) and is 404 when
// METRICS_TOKEN is unset; in development it is open.
func TestMetricsNeedTheTokenInProduction(t *testing.T) {
	t.Parallel()
	env := productionEnv(t)
	env["METRICS_TOKEN"] = "scraper-token-0123456789"
	addr, _ := startServe(t, env)
	url := "http://" + addr + "/metrics"
	if code, _ := httpGet(t, url, ""); code != http.StatusUnauthorized {
		t.Errorf("production /metrics without a token: %d, want 401", code)
	}
	if code, _ := httpGet(t, url, "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("production /metrics with a wrong token: %d, want 401", code)
	}
	if code, body := httpGet(t, url, "Bearer scraper-token-0123456789"); code != http.StatusOK || !strings.Contains(body, "usersvc_http_requests_total") {
		t.Errorf("production /metrics with the token: %d, want 200 and the metrics", code)
	}

	addr, _ = startServe(t, productionEnv(t))
	if code, _ := httpGet(t, "http://"+addr+"/metrics", "Bearer anything"); code != http.StatusNotFound {
		t.Errorf("production /metrics without METRICS_TOKEN: %d, want 404", code)
	}

	dev := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET": strings.Repeat("k", 32), "HASH_MEMORY_KIB": "8192", "METRICS_TOKEN": "ignored-in-development"}
	addr, _ = startServe(t, dev)
	if code, _ := httpGet(t, "http://"+addr+"/metrics", ""); code != http.StatusOK {
		t.Errorf("development /metrics: %d, want 200", code)
	}
}

// TestDeletedBootstrapAdminStaysDeleted: ADMIN_EMAIL and ADMIN_PASSWORD
// create an ADMIN only while the database has none; once another ADMIN
// exists, deleting the bootstrap admin is final, whatever the environment
// still says at the next start.
func TestDeletedBootstrapAdminStaysDeleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":    "sqlite:" + filepath.Join(dir, "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"ADMIN_EMAIL":     "root@example.com",
		"ADMIN_PASSWORD":  "a long admin passphrase",
		"LOG_FORMAT":      "json",
	}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out, errb bytes.Buffer
	// First start: no ADMIN, so the bootstrap admin is created.
	t.Run("first start", func(t *testing.T) {
		_, logs := startServe(t, env)
		if !strings.Contains(logs.String(), "created the bootstrap admin") {
			t.Fatalf("no bootstrap admin at the first start:\n%s", logs)
		}
	})
	if err := run(ctx, []string{"admin", "create", "--email", "second@example.com", "--password", "another long passphrase"}, getenv, &out, &errb); err != nil {
		t.Fatalf("admin create: %v\n%s", err, errb.String())
	}
	if err := run(ctx, []string{"users", "delete", "root@example.com"}, getenv, &out, &errb); err != nil {
		t.Fatalf("users delete: %v\n%s", err, errb.String())
	}
	t.Run("second start", func(t *testing.T) {
		_, logs := startServe(t, env)
		if strings.Contains(logs.String(), "created the bootstrap admin") {
			t.Fatalf("the deleted bootstrap admin came back:\n%s", logs)
		}
	})
	out.Reset()
	if err := run(ctx, []string{"users", "list", "--format", "csv"}, getenv, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "root@example.com") || !strings.Contains(out.String(), "second@example.com") {
		t.Errorf("users after the restart:\n%s", out.String())
	}
}

func TestListenURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":9000":          "http://localhost:9000",
		"0.0.0.0:9000":   "http://localhost:9000",
		"[::]:9000":      "http://localhost:9000",
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"example.com:80": "http://example.com:80",
		"nonsense":       "http://localhost:8000",
	} {
		if got := listenURL(addr); got != want {
			t.Errorf("listenURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestConfigDefaultsFollowTheEnvironment(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) config {
		t.Helper()
		c, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("loadConfig(%v): %v", env, err)
		}
		return c
	}
	if c := load(nil); c.LogFormat != "text" || c.PublicBaseURL != "http://localhost:8000" {
		t.Errorf("development defaults: LOG_FORMAT %q, PUBLIC_BASE_URL %q; want text, http://localhost:8000", c.LogFormat, c.PublicBaseURL)
	}
	if c := load(map[string]string{"HTTP_ADDR": ":9000"}); c.PublicBaseURL != "http://localhost:9000" {
		t.Errorf("HTTP_ADDR :9000 gives PUBLIC_BASE_URL %q, want http://localhost:9000", c.PublicBaseURL)
	}
	if c := load(map[string]string{"HTTP_ADDR": ":9000", "PUBLIC_BASE_URL": "https://x.io/"}); c.PublicBaseURL != "https://x.io" {
		t.Errorf("an explicit PUBLIC_BASE_URL became %q", c.PublicBaseURL)
	}
	if c := load(map[string]string{"LOG_FORMAT": "JSON"}); c.LogFormat != "json" {
		t.Errorf("LOG_FORMAT=JSON in development gives %q", c.LogFormat)
	}
	prod := productionEnv(t)
	if c := load(prod); c.LogFormat != "json" || c.MetricsToken != "" {
		t.Errorf("production: LOG_FORMAT %q, want json", c.LogFormat)
	}
	prod["LOG_FORMAT"], prod["METRICS_TOKEN"] = "text", "tok"
	if c := load(prod); c.LogFormat != "text" || c.MetricsToken != "tok" {
		t.Errorf("production with LOG_FORMAT=text: %q, METRICS_TOKEN %q", c.LogFormat, c.MetricsToken)
	}
}

// serve collects garbage less often than Go's default when hashes run in
// the worker, and leaves GOGC alone when the environment sets it or when
// argon2's buffers share the service's heap.
func TestGCPercentDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env     map[string]string
		percent int
		ok      bool
	}{
		{map[string]string{}, defaultGCPercent, true},
		{map[string]string{"HASH_PRIORITY": "low"}, defaultGCPercent, true},
		{map[string]string{"GOGC": "150"}, 0, false},
		{map[string]string{"GOGC": "off"}, 0, false},
		{map[string]string{"HASH_PRIORITY": "normal"}, 0, false},
	} {
		getenv := func(k string) string { return c.env[k] }
		percent, ok := gcPercent(getenv, testConfig(t, c.env))
		if percent != c.percent || ok != c.ok {
			t.Errorf("%v: gcPercent = %d, %v; want %d, %v", c.env, percent, ok, c.percent, c.ok)
		}
	}
}
