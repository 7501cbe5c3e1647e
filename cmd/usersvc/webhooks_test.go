package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

func TestLoadWebhookConfig(t *testing.T) {
	prod := map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32), "PUBLIC_BASE_URL": "https://x.io",
		"SECRETS_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	load := func(env map[string]string) (config, error) {
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookMaxAttempts != 8 || c.WebhookRetryMin != 5*time.Second || c.WebhookRetryMax != time.Hour || !c.WebhookAllowPrivate {
		t.Errorf("development defaults: %d %v %v %v; want 8 5s 1h true", c.WebhookMaxAttempts, c.WebhookRetryMin, c.WebhookRetryMax, c.WebhookAllowPrivate)
	}
	if c, err = load(prod); err != nil || c.WebhookAllowPrivate {
		t.Errorf("production: allow private %v, %v; want false", c.WebhookAllowPrivate, err)
	}
	if c, err = load(with(prod, "WEBHOOK_ALLOW_PRIVATE", "true")); err != nil || !c.WebhookAllowPrivate {
		t.Errorf("production with WEBHOOK_ALLOW_PRIVATE=true: %v, %v", c.WebhookAllowPrivate, err)
	}
	if c, err = load(map[string]string{"WEBHOOK_ALLOW_PRIVATE": "false"}); err != nil || c.WebhookAllowPrivate {
		t.Errorf("development with WEBHOOK_ALLOW_PRIVATE=false: %v, %v", c.WebhookAllowPrivate, err)
	}
	c, err = load(map[string]string{"WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_RETRY_MIN": "100ms", "WEBHOOK_RETRY_MAX": "2s"})
	if err != nil || c.WebhookMaxAttempts != 3 || c.WebhookRetryMin != 100*time.Millisecond || c.WebhookRetryMax != 2*time.Second {
		t.Errorf("explicit settings: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WEBHOOK_MAX_ATTEMPTS": "0"}, "WEBHOOK_MAX_ATTEMPTS"},
		{map[string]string{"WEBHOOK_MAX_ATTEMPTS": "many"}, "WEBHOOK_MAX_ATTEMPTS"},
		{map[string]string{"WEBHOOK_RETRY_MIN": "0s"}, "WEBHOOK_RETRY_MIN"},
		{map[string]string{"WEBHOOK_RETRY_MAX": "soon"}, "WEBHOOK_RETRY_MAX"},
		{map[string]string{"WEBHOOK_RETRY_MIN": "10m", "WEBHOOK_RETRY_MAX": "1m"}, "must not be less than WEBHOOK_RETRY_MIN"},
		{map[string]string{"WEBHOOK_ALLOW_PRIVATE": "sometimes"}, "WEBHOOK_ALLOW_PRIVATE"},
	} {
		_, err := load(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line mentioning %q", tc.env, err, tc.want)
		}
	}
}

// TestServeDeliversWebhooks boots the program and goes through the
// webhooks as an ADMIN would: an endpoint, a change, a delivery after a
// failed attempt, signed; the metrics count them.
func TestServeDeliversWebhooks(t *testing.T) {
	recv := testsupport.NewWebhookReceiver(t, func(n int, _ testsupport.ReceivedWebhook) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	srv := startServer(t, map[string]string{
		"DATABASE_URL":      "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":        strings.Repeat("k", 32),
		"HASH_MEMORY_KIB":   "8192",
		"ADMIN_EMAIL":       "root@example.com",
		"ADMIN_PASSWORD":    "a long admin passphrase",
		"WEBHOOK_RETRY_MIN": "50ms",
		"WEBHOOK_RETRY_MAX": "100ms",
	})
	base := srv.base
	call := func(method, path, token string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		ct := "application/json"
		switch b := body.(type) {
		case nil:
		case url.Values:
			rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", ct)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := call(http.MethodPost, "/login/", "", url.Values{"username": {"root@example.com"}, "password": {"a long admin passphrase"}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("login: %d %s", code, body)
	}
	code, body = call(http.MethodPost, "/webhooks", tok.AccessToken, map[string]any{"url": recv.URL() + "/hook", "events": []string{"user.created"}})
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &hook) != nil {
		t.Fatalf("POST /webhooks: %d %s", code, body)
	}
	if code, body := call(http.MethodPost, "/register/", "", map[string]any{"email": "new@example.com", "password": "a long enough passphrase"}); code != http.StatusOK {
		t.Fatalf("register: %d %s", code, body)
	}
	got := recv.WaitFor(t, 20*time.Second, "a delivery", func(got []testsupport.ReceivedWebhook) bool {
		return len(testsupport.Delivered(got)) == 1
	})
	if len(got) != 2 || got[0].ID() != got[1].ID() {
		t.Errorf("the receiver got %d requests; want 2 with one webhook-id", len(got))
	}
	if err := testsupport.VerifyStandardWebhook(hook.Secret, got[1].Header, got[1].Body, time.Now(), time.Minute); err != nil {
		t.Errorf("signature: %v", err)
	}
	// The attempt is recorded just after it is answered.
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, metrics = call(http.MethodGet, "/metrics", "", nil)
		if strings.Contains(metrics, `usersvc_webhook_deliveries_total{outcome="sent"} 1`) {
			break
		}
	}
	for _, want := range []string{
		`usersvc_webhook_deliveries_total{outcome="sent"} 1`,
		`usersvc_webhook_deliveries_total{outcome="retried"} 1`,
		`usersvc_webhook_deliveries_total{outcome="failed"} 0`,
		`usersvc_webhook_deliveries_pending `,
		`usersvc_webhook_deliveries_failed 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	code, body = call(http.MethodGet, "/webhooks/"+hook.ID+"/deliveries", tok.AccessToken, nil)
	if code != http.StatusOK || !strings.Contains(body, `"status":"delivered"`) || !strings.Contains(body, `"attempts":2`) {
		t.Errorf("deliveries: %d %s", code, body)
	}
}
