package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/webhook"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 123456000, time.UTC)

// newKey returns a signing key and its secret as a receiver is shown it.
func newKey(tb testing.TB) ([]byte, string) {
	tb.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	return key, "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func sampleEvent() domain.WebhookEvent {
	return domain.WebhookEvent{
		ID:   "0195c1d2-0000-7000-8000-000000000001",
		Type: domain.WebhookUserUpdated,
		At:   t0.Add(time.Second),
		User: domain.UserSnapshot{
			ID: "0195c1d2-0000-7000-8000-0000000000aa", Email: "ada@example.com", Nickname: "ada",
			Profile:        domain.Profile{FirstName: "Ada", GitHubProfileURL: "https://github.com/ada"},
			Role:           domain.RoleManager,
			IsProfessional: true, ProfessionalStatusUpdatedAt: t0,
			EmailVerified: true, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0,
		},
	}
}

// TestSendIsAStandardWebhook: one POST whose headers and signature a
// receiver written from the specification accepts, with the payload of
// PRODUCT.md 8.6.
func TestSendIsAStandardWebhook(t *testing.T) {
	t.Parallel()
	recv := testsupport.NewWebhookReceiver(t, nil)
	key, secret := newKey(t)
	s := webhook.New(webhook.Options{AllowPrivate: true})
	now := time.Now()
	status, err := s.Send(t.Context(), ports.WebhookRequest{URL: recv.URL() + "/hooks?x=1", Event: sampleEvent(), Key: key}, now)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Send = %d, %v; want 204, nil", status, err)
	}
	got := recv.Received()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	w := got[0]
	if w.Method != http.MethodPost || w.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s with Content-Type %q, want a JSON POST", w.Method, w.Header.Get("Content-Type"))
	}
	if err := testsupport.VerifyStandardWebhook(secret, w.Header, w.Body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("the signature does not verify: %v", err)
	}
	if w.ID() != sampleEvent().ID {
		t.Errorf("webhook-id %q, want the event's id %s", w.ID(), sampleEvent().ID)
	}
	if ts := w.Header.Get("webhook-timestamp"); ts != strconvUnix(now) {
		t.Errorf("webhook-timestamp %q, want the attempt's %s", ts, strconvUnix(now))
	}
	if !strings.HasPrefix(w.Header.Get("webhook-signature"), "v1,") {
		t.Errorf("webhook-signature %q does not start with v1,", w.Header.Get("webhook-signature"))
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type":      "user.updated",
		"timestamp": "2025-03-14T09:26:54.123456Z",
		"data": map[string]any{"user": map[string]any{
			"id": "0195c1d2-0000-7000-8000-0000000000aa", "email": "ada@example.com", "nickname": "ada",
			"first_name": "Ada", "last_name": nil, "bio": nil, "preferred_language": nil, "profile_picture_url": nil,
			"linkedin_profile_url": nil, "github_profile_url": "https://github.com/ada", "role": "MANAGER",
			"is_professional": true, "professional_status_updated_at": "2025-03-14T09:26:53.123456Z",
			"email_verified": true, "is_locked": false, "mfa_enabled": false, "invitation_pending": false, "last_login_at": nil,
			"created_at": "2025-03-14T08:26:53.123456Z", "updated_at": "2025-03-14T09:26:53.123456Z",
		}},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}

	// A tampered body, id or timestamp fails the independent check.
	for name, tamper := range map[string]func(h http.Header, b []byte) (http.Header, []byte){
		"body": func(h http.Header, b []byte) (http.Header, []byte) { return h, append([]byte(" "), b...) },
		"id": func(h http.Header, b []byte) (http.Header, []byte) {
			h = h.Clone()
			h.Set("webhook-id", "other")
			return h, b
		},
		"timestamp": func(h http.Header, b []byte) (http.Header, []byte) {
			h = h.Clone()
			h.Set("webhook-timestamp", strconvUnix(now.Add(time.Second)))
			return h, b
		},
	} {
		h, b := tamper(w.Header, w.Body)
		if testsupport.VerifyStandardWebhook(secret, h, b, time.Now(), 5*time.Minute) == nil {
			t.Errorf("a tampered %s still verifies", name)
		}
	}
	_, other := newKey(t)
	if testsupport.VerifyStandardWebhook(other, w.Header, w.Body, time.Now(), 5*time.Minute) == nil {
		t.Error("another secret verifies the signature")
	}
}

func strconvUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPayloadIsStable(t *testing.T) {
	t.Parallel()
	a, err := webhook.Payload(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.Payload(sampleEvent())
	if string(a) != string(b) {
		t.Errorf("two payloads of one event differ:\n%s\n%s", a, b)
	}
}

// TestSendFailsOnAnythingButTwoHundreds: other statuses, redirects (not
// followed) and timeouts are failed attempts.
func TestSendFailsOnAnythingButTwoHundreds(t *testing.T) {
	t.Parallel()
	key, _ := newKey(t)
	var followed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code := map[string]int{"200": 200, "201": 201, "299": 299, "404": 404, "410": 410, "500": 500, "503": 503}[strings.TrimPrefix(r.URL.Path, "/status/")]
		w.WriteHeader(code)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20))) // a large body, drained in part
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(1500 * time.Millisecond):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := webhook.New(webhook.Options{AllowPrivate: true})
	send := func(path string) (int, error) {
		return s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + path, Event: sampleEvent(), Key: key}, time.Now())
	}
	for _, code := range []int{200, 201, 299} {
		if status, err := send("/status/" + itoa(int64(code))); err != nil || status != code {
			t.Errorf("a %d answer: %d, %v; want a delivery", code, status, err)
		}
	}
	for _, code := range []int{404, 410, 500, 503} {
		if status, err := send("/status/" + itoa(int64(code))); err == nil || status != code {
			t.Errorf("a %d answer: %d, %v; want status %d and an error", code, status, err, code)
		}
	}
	if status, err := send("/redirect"); err == nil || status != http.StatusTemporaryRedirect || followed.Load() {
		t.Errorf("a redirect: %d, %v, followed %v; want 307, an error, not followed", status, err, followed.Load())
	}
	impatient := webhook.New(webhook.Options{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	start := time.Now()
	status, err := impatient.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/slow", Event: sampleEvent(), Key: key}, time.Now())
	// The endpoint answers after 1.5 s: an answer at all means no timeout.
	if err == nil || status != 0 {
		t.Errorf("a slow endpoint: %d, %v after %v; want no status and an error after the timeout", status, err, time.Since(start))
	}
	if status, err := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/status/200", Event: sampleEvent()}, time.Now()); err == nil {
		t.Errorf("a request without a key was sent: %d", status)
	}
	// A refused connection is an error without a status, and without the
	// URL (which may hold its owner's token).
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	status, err = s.Send(t.Context(), ports.WebhookRequest{URL: closed.URL + "/?token=s3cret", Event: sampleEvent(), Key: key}, time.Now())
	if err == nil || status != 0 || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a refused connection: %d, %v; want no status, an error without the URL", status, err)
	}
}

// fakeResolver answers every name with addrs.
type fakeResolver struct {
	addrs []netip.Addr
	calls atomic.Int32
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	return r.addrs, nil
}

// TestPrivateAddressesRefusedAtConnection: without AllowPrivate, no
// connection reaches a non-public address, whether the URL names it or a
// name resolves to it when the connection is made (DNS rebinding: the name
// pointed elsewhere when the hook was created).
func TestPrivateAddressesRefusedAtConnection(t *testing.T) {
	t.Parallel()
	recv := testsupport.NewWebhookReceiver(t, nil)
	key, _ := newKey(t)
	u, _ := url.Parse(recv.URL())
	port := u.Port()
	rebinding := &fakeResolver{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	strict := webhook.New(webhook.Options{Resolver: rebinding})
	for _, target := range []string{
		recv.URL(),                                   // loopback by address
		"http://[::ffff:127.0.0.1]:" + port,          // loopback, IPv4-mapped
		"http://hooks.example.com:" + port + "/hook", // a name that now resolves to loopback
		"https://hooks.example.com:" + port + "/hook",
	} {
		status, err := strict.Send(t.Context(), ports.WebhookRequest{URL: target, Event: sampleEvent(), Key: key}, time.Now())
		if !errors.Is(err, webhook.ErrAddressRefused) || status != 0 {
			t.Errorf("Send to %s: %d, %v; want ErrAddressRefused", target, status, err)
		}
	}
	if rebinding.calls.Load() == 0 {
		t.Error("the name was never resolved at connection time")
	}
	if n := len(recv.Received()); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests", n)
	}
	// The same name and resolver, private addresses allowed: it arrives.
	lax := webhook.New(webhook.Options{Resolver: rebinding, AllowPrivate: true})
	if status, err := lax.Send(t.Context(), ports.WebhookRequest{URL: "http://hooks.example.com:" + port + "/hook", Event: sampleEvent(), Key: key}, time.Now()); err != nil {
		t.Fatalf("Send with private addresses allowed: %d, %v", status, err)
	}
	if n := len(recv.Received()); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
}

// TestNoProxy: a proxy from the environment would dial on our behalf, past
// the address check; the sender never uses one.
func TestNoProxy(t *testing.T) {
	var proxied atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.Store(true) }))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	recv := testsupport.NewWebhookReceiver(t, nil)
	key, _ := newKey(t)
	// A name, so that the loopback exemption of proxies does not apply.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(recv.URL(), "http://"))
	r := &fakeResolver{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	s := webhook.New(webhook.Options{AllowPrivate: true, Resolver: r})
	if _, err := s.Send(t.Context(), ports.WebhookRequest{URL: "http://hooks.example.com:" + port, Event: sampleEvent(), Key: key}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() || len(recv.Received()) != 1 {
		t.Errorf("proxied %v, received %d; want sent directly", proxied.Load(), len(recv.Received()))
	}
}
