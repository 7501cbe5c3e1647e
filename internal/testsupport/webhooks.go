package testsupport

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// VerifyStandardWebhook checks a webhook request as any Standard Webhooks
// receiver does. It is written from the specification
// (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md,
// "Verifying webhook authenticity"), not from our sender, so that a test
// using it checks our signatures independently:
//
//   - the secret is "whsec_" followed by the base64 of the key;
//   - webhook-id, webhook-timestamp (integer Unix seconds) and
//     webhook-signature are all present;
//   - the timestamp is within tolerance of now (replay protection);
//   - webhook-signature is a space-separated list of "version,signature",
//     and one "v1" entry equals the base64 of HMAC-SHA256(key,
//     "{webhook-id}.{webhook-timestamp}.{body}"), compared in constant time.
func VerifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	encoded, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return errors.New("the secret does not start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return fmt.Errorf("the secret is not base64 after whsec_: %w", err)
	}
	if len(key) == 0 {
		return errors.New("the secret is empty after whsec_")
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers: webhook-id %q, webhook-timestamp %q, webhook-signature %q", id, ts, sigs)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not an integer", ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp %s is %v from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", sigs)
}

// ReceivedWebhook is one request a WebhookReceiver got.
type ReceivedWebhook struct {
	Method string
	Header http.Header
	Body   []byte
	At     time.Time // when it arrived
	Status int       // what the receiver answered
}

// ID is the request's webhook-id.
func (w ReceivedWebhook) ID() string { return w.Header.Get("webhook-id") }

// WebhookPayload is a Standard Webhooks payload of ours.
type WebhookPayload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		User map[string]any `json:"user"`
	} `json:"data"`
}

// Payload decodes the request's body.
func (w ReceivedWebhook) Payload(tb testing.TB) WebhookPayload {
	tb.Helper()
	var p WebhookPayload
	dec := json.NewDecoder(strings.NewReader(string(w.Body)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("webhook body is not a payload: %v: %s", err, w.Body)
	}
	return p
}

// WebhookReceiver is an HTTP server on loopback that records every request
// and answers it with the status answer chooses (nil: 204). The n-th
// request (from 1) is passed to answer.
type WebhookReceiver struct {
	srv    *httptest.Server
	answer func(n int, w ReceivedWebhook) int
	mu     sync.Mutex
	got    []ReceivedWebhook
	notify chan struct{}
}

// NewWebhookReceiver starts a receiver on a free loopback port; it is
// closed when the test ends.
func NewWebhookReceiver(tb testing.TB, answer func(n int, w ReceivedWebhook) int) *WebhookReceiver {
	tb.Helper()
	return NewWebhookReceiverAt(tb, "127.0.0.1:0", answer)
}

// NewWebhookReceiverAt starts a receiver listening on addr.
func NewWebhookReceiverAt(tb testing.TB, addr string, answer func(n int, w ReceivedWebhook) int) *WebhookReceiver {
	tb.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		tb.Fatalf("webhook receiver: listen on %s: %v", addr, err)
	}
	r := &WebhookReceiver{answer: answer, notify: make(chan struct{}, 1)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	_ = r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	got := ReceivedWebhook{Method: req.Method, Header: req.Header.Clone(), Body: body, At: time.Now(), Status: http.StatusNoContent}
	r.mu.Lock()
	if r.answer != nil {
		got.Status = r.answer(len(r.got)+1, got)
	}
	r.got = append(r.got, got)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(got.Status)
}

// URL is the receiver's base URL, http://127.0.0.1:port.
func (r *WebhookReceiver) URL() string { return r.srv.URL }

// Received returns the requests so far, in arrival order.
func (r *WebhookReceiver) Received() []ReceivedWebhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ReceivedWebhook, len(r.got))
	copy(out, r.got)
	return out
}

// WaitFor waits until done holds for the requests received, and returns
// them; the test fails after timeout.
func (r *WebhookReceiver) WaitFor(tb testing.TB, timeout time.Duration, what string, done func([]ReceivedWebhook) bool) []ReceivedWebhook {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		got := r.Received()
		if done(got) {
			return got
		}
		select {
		case <-r.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline.C:
			tb.Fatalf("webhook receiver: after %v, still waiting for %s; got %d requests", timeout, what, len(got))
		}
	}
}

// Delivered returns the requests that were answered 2xx.
func Delivered(got []ReceivedWebhook) []ReceivedWebhook {
	var out []ReceivedWebhook
	for _, w := range got {
		if w.Status >= 200 && w.Status <= 299 {
			out = append(out, w)
		}
	}
	return out
}
