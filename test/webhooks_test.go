package e2e_test

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/internal/testsupport"
)

// The webhooks of PRODUCT.md 8.6, end to end: the built binary, a receiver
// on loopback, and a verifier of the signatures written from the Standard
// Webhooks specification (testsupport.VerifyStandardWebhook), not from our
// sender.

// hookEnv is baseEnv with fast webhook retries.
func hookEnv(tb testing.TB, databaseURL string) map[string]string {
	env := baseEnv(tb, databaseURL)
	env["WEBHOOK_RETRY_MIN"] = "100ms"
	env["WEBHOOK_RETRY_MAX"] = "300ms"
	// Instances on one database share the key that seals the secrets
	// (without one, each would make its own under its data directory).
	env["SECRETS_KEY"] = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	return env
}

// createdHook is the answer of POST /webhooks.
type createdHook struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret"`
	CreatedAt string   `json:"created_at"`
}

// adminClient logs the bootstrap ADMIN of baseEnv in on s.
func adminClient(tb testing.TB, ctx context.Context, s *service) *client {
	tb.Helper()
	c := newClient(s.URL)
	c.mustLogin(tb, ctx, "admin@example.com", "admin-password-for-e2e")
	return c
}

// createHook registers url for events and returns the endpoint.
func createHook(tb testing.TB, ctx context.Context, admin *client, url string, events ...string) createdHook {
	tb.Helper()
	a := admin.mustRaw(tb, ctx, http.MethodPost, "/webhooks", map[string]any{"url": url, "events": events}, nil)
	if a.Status != http.StatusCreated {
		tb.Fatalf("POST /webhooks: %d %s", a.Status, a.Body)
	}
	var h createdHook
	if err := json.Unmarshal([]byte(a.Body), &h); err != nil {
		tb.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Secret, "whsec_"))
	if !strings.HasPrefix(h.Secret, "whsec_") || err != nil || len(key) != 32 {
		tb.Fatalf("secret %q is not whsec_ + base64 of 32 bytes", h.Secret)
	}
	return h
}

// deliveries reads an endpoint's deliveries log.
type deliveryItem struct {
	EventID        string  `json:"event_id"`
	Type           string  `json:"type"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"last_status_code"`
	CreatedAt      string  `json:"created_at"`
	DeliveredAt    *string `json:"delivered_at"`
}

func deliveries(tb testing.TB, ctx context.Context, admin *client, hookID string) []deliveryItem {
	tb.Helper()
	a := admin.mustRaw(tb, ctx, http.MethodGet, "/webhooks/"+hookID+"/deliveries", nil, nil)
	if a.Status != http.StatusOK {
		tb.Fatalf("GET deliveries: %d %s", a.Status, a.Body)
	}
	var out struct {
		Items []deliveryItem `json:"items"`
	}
	if err := json.Unmarshal([]byte(a.Body), &out); err != nil {
		tb.Fatal(err)
	}
	return out.Items
}

// shownUser is GET /users/{id} without links, as a webhook carries it.
func shownUser(tb testing.TB, ctx context.Context, admin *client, id string) map[string]any {
	tb.Helper()
	a := admin.mustRaw(tb, ctx, http.MethodGet, "/users/"+id, nil, nil)
	if a.Status != http.StatusOK {
		tb.Fatalf("GET /users/%s: %d %s", id, a.Status, a.Body)
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(a.Body), &u); err != nil {
		tb.Fatal(err)
	}
	if _, ok := u["links"]; !ok {
		tb.Fatalf("GET /users/%s has no links: %s", id, a.Body)
	}
	delete(u, "links")
	return u
}

// sameUser compares a webhook's user with GET /users/{id}'s, field by field.
func sameUser(tb testing.TB, what string, got, want map[string]any) {
	tb.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		tb.Errorf("%s: the webhook's user\n  %s\nis not GET /users/{id} without links\n  %s", what, g, w)
	}
}

// TestWebhooksEveryEventEndToEnd: each change a client can make through
// the API reaches a receiver on loopback as its event, signed so that an
// independent verifier accepts it, with the user exactly as GET
// /users/{id} shows it (less links).
func TestWebhooksEveryEventEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	svc := startService(t, t.TempDir(), hookEnv(t, sqlstoretest.NewPostgresURL(t)))
	admin := adminClient(t, ctx, svc)
	recv := testsupport.NewWebhookReceiver(t, nil)
	hook := createHook(t, ctx, admin, recv.URL()+"/usersvc", "*")

	seen := 0
	// next waits for the next webhook, which must be of type typ about
	// user id, checks its signature and headers, and returns its user.
	next := func(typ, id string) map[string]any {
		t.Helper()
		got := recv.WaitFor(t, 20*time.Second, typ, func(got []testsupport.ReceivedWebhook) bool { return len(got) > seen })
		w := got[seen]
		seen++
		if err := testsupport.VerifyStandardWebhook(hook.Secret, w.Header, w.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		if w.Method != http.MethodPost || w.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %s %s", typ, w.Method, w.Header.Get("Content-Type"))
		}
		p := w.Payload(t)
		if p.Type != typ || p.Data.User["id"] != id {
			t.Fatalf("webhook %d: %s about %v, want %s about %s: %s", seen, p.Type, p.Data.User["id"], typ, id, w.Body)
		}
		if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
			t.Errorf("%s: timestamp %q: %v", typ, p.Timestamp, err)
		}
		return p.Data.User
	}
	check := func(typ, id string) {
		t.Helper()
		sameUser(t, typ, next(typ, id), shownUser(t, ctx, admin, id))
	}

	email := "hooked@example.com"
	u, err := newClient(svc.URL).register(ctx, email, "a long enough passphrase")
	mustOK(t, err)
	check("user.created", u.ID)
	status, err := newClient(svc.URL).get(ctx, svc.verificationLink(t, email))
	mustOK(t, err)
	if status != http.StatusOK {
		t.Fatalf("verify: %d", status)
	}
	check("user.verified", u.ID)

	var staffMade user
	mustOK(t, admin.do(ctx, http.MethodPost, "/users/", map[string]any{"email": "made@example.com", "password": "a long enough passphrase"}, &staffMade))
	check("user.created", staffMade.ID)

	mustOK(t, admin.do(ctx, http.MethodPut, "/users/"+u.ID, map[string]any{"bio": "Receives webhooks", "first_name": "Hook"}, nil))
	check("user.updated", u.ID)
	mustOK(t, admin.do(ctx, http.MethodPatch, "/users/"+u.ID+"/role", map[string]any{"role": "MANAGER"}, nil))
	check("user.role_changed", u.ID)
	mustOK(t, admin.do(ctx, http.MethodPatch, "/users/"+u.ID+"/role", map[string]any{"role": "AUTHENTICATED"}, nil))
	check("user.role_changed", u.ID)
	_, err = admin.upgrade(ctx, u.ID)
	mustOK(t, err)
	check("user.professional", u.ID)
	mustOK(t, admin.do(ctx, http.MethodPost, "/users/"+u.ID+"/lock", nil, nil))
	check("user.locked", u.ID)
	mustOK(t, admin.do(ctx, http.MethodPost, "/users/"+u.ID+"/unlock", nil, nil))
	check("user.unlocked", u.ID)

	owner := newClient(svc.URL)
	owner.mustLogin(t, ctx, email, "a long enough passphrase")
	a := owner.mustRaw(t, ctx, http.MethodPut, "/users/me/password", map[string]any{
		"current_password": "a long enough passphrase", "new_password": "another long passphrase"}, nil)
	if a.Status != http.StatusNoContent {
		t.Fatalf("password change: %d %s", a.Status, a.Body)
	}
	check("user.password_changed", u.ID)

	// The second factor, on and off, as in TestSecondFactorEndToEnd.
	a = owner.mustRaw(t, ctx, http.MethodPost, "/users/me/mfa/totp", map[string]string{"password": "another long passphrase"}, nil)
	var enrol struct {
		Secret string `json:"secret"`
	}
	if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &enrol) != nil {
		t.Fatalf("enrol: %d %s", a.Status, a.Body)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enrol.Secret)
	mustOK(t, err)
	now := time.Now()
	if a = owner.mustRaw(t, ctx, http.MethodPost, "/users/me/mfa/totp/confirm", map[string]string{"code": totpAt(key, now)}, nil); a.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", a.Status, a.Body)
	}
	check("user.mfa_enabled", u.ID)
	if a = owner.mustRaw(t, ctx, http.MethodDelete, "/users/me/mfa/totp", map[string]string{
		"password": "another long passphrase", "code": totpAt(key, now.Add(30*time.Second))}, nil); a.Status != http.StatusNoContent {
		t.Fatalf("disable: %d %s", a.Status, a.Body)
	}
	check("user.mfa_disabled", u.ID)

	// A staff email change: the address changes (and waits for its
	// verification), and the user is updated: two events of one change,
	// which may arrive in either order (deliveries are concurrent).
	mustOK(t, admin.do(ctx, http.MethodPut, "/users/"+staffMade.ID, map[string]any{"email": "made.new@example.com"}, nil))
	got := recv.WaitFor(t, 20*time.Second, "two events", func(got []testsupport.ReceivedWebhook) bool { return len(got) >= seen+2 })
	types := map[string]bool{}
	for _, w := range got[seen : seen+2] {
		p := w.Payload(t)
		types[p.Type] = true
		if err := testsupport.VerifyStandardWebhook(hook.Secret, w.Header, w.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("%s: %v", p.Type, err)
		}
		sameUser(t, p.Type, p.Data.User, shownUser(t, ctx, admin, staffMade.ID))
	}
	if !types["user.email_changed"] || !types["user.updated"] {
		t.Errorf("a staff email change sent %v, want user.email_changed and user.updated", types)
	}
	seen += 2

	before := shownUser(t, ctx, admin, staffMade.ID)
	mustOK(t, admin.do(ctx, http.MethodDelete, "/users/"+staffMade.ID, nil, nil))
	sameUser(t, "user.deleted", next("user.deleted", staffMade.ID), before)

	// Every one of them was delivered at the first attempt, and logged so
	// (the last one just after its answer).
	waitFor(t, 10*time.Second, "every delivery logged", func() bool {
		log := deliveries(t, ctx, admin, hook.ID)
		return len(log) > 0 && log[0].Status == "delivered"
	})
	log := deliveries(t, ctx, admin, hook.ID)
	if len(log) != seen {
		t.Fatalf("the deliveries log holds %d deliveries, want %d", len(log), seen)
	}
	received := map[string]string{} // webhook-id: type
	for _, w := range recv.Received() {
		received[w.ID()] = w.Payload(t).Type
	}
	for i, d := range log {
		if d.Type != received[d.EventID] || d.Status != "delivered" || d.Attempts != 1 ||
			d.LastStatusCode == nil || *d.LastStatusCode != 204 || d.DeliveredAt == nil {
			t.Errorf("log[%d] = %+v, want the delivered %s %s", i, d, received[d.EventID], d.EventID)
		}
		if i > 0 {
			this, err1 := time.Parse(time.RFC3339Nano, d.CreatedAt)
			prev, err2 := time.Parse(time.RFC3339Nano, log[i-1].CreatedAt)
			if err1 != nil || err2 != nil || this.After(prev) {
				t.Errorf("log[%d] at %s, log[%d] at %s: want newest first", i, d.CreatedAt, i-1, log[i-1].CreatedAt)
			}
		}
	}
	if n := len(recv.Received()); n != seen {
		t.Errorf("the receiver got %d webhooks, want %d", n, seen)
	}
}

// TestWebhookRetriedWithTheSameIDEndToEnd: a receiver that answers 500
// twice gets the same webhook-id a third time, and the log shows three
// attempts, the last answered 200.
func TestWebhookRetriedWithTheSameIDEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	svc := startService(t, t.TempDir(), hookEnv(t, sqliteURL(t)))
	admin := adminClient(t, ctx, svc)
	recv := testsupport.NewWebhookReceiver(t, func(n int, _ testsupport.ReceivedWebhook) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hook := createHook(t, ctx, admin, recv.URL(), "user.created")
	_, err := newClient(svc.URL).register(ctx, "retried@example.com", "a long enough passphrase")
	mustOK(t, err)
	got := recv.WaitFor(t, 20*time.Second, "the third attempt", func(got []testsupport.ReceivedWebhook) bool { return len(got) >= 3 })
	for i, w := range got[:3] {
		if w.ID() != got[0].ID() {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, w.ID(), got[0].ID())
		}
		if err := testsupport.VerifyStandardWebhook(hook.Secret, w.Header, w.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	waitFor(t, 10*time.Second, "the delivery logged", func() bool {
		log := deliveries(t, ctx, admin, hook.ID)
		return len(log) == 1 && log[0].Status == "delivered"
	})
	log := deliveries(t, ctx, admin, hook.ID)
	if d := log[0]; d.Attempts != 3 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.EventID != got[0].ID() {
		t.Errorf("log %+v, want 3 attempts, the last 200, event %s", d, got[0].ID())
	}
	time.Sleep(500 * time.Millisecond) // more than the longest backoff: nothing more comes
	if n := len(recv.Received()); n != 3 {
		t.Errorf("the receiver got %d attempts, want 3", n)
	}
}

// waitFor polls cond until it holds; the test fails after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v, still waiting for %s", timeout, what)
		}
	}
}

// TestWebhookSurvivesCrashBeforeDelivery: the service is killed (SIGKILL)
// after the change committed and before its webhook was delivered (the
// receiver is not up yet); after a restart it is delivered, once.
func TestWebhookSurvivesCrashBeforeDelivery(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dir := t.TempDir()
	env := hookEnv(t, sqliteURL(t))
	env["WEBHOOK_MAX_ATTEMPTS"] = "100" // refused connections must not exhaust it
	svc := startService(t, dir, env)
	admin := adminClient(t, ctx, svc)
	port := freePort(t)
	hook := createHook(t, ctx, admin, fmt.Sprintf("http://127.0.0.1:%d/hook", port), "user.created")
	u, err := newClient(svc.URL).register(ctx, "crash@example.com", "a long enough passphrase")
	mustOK(t, err)
	svc.kill()

	recv := testsupport.NewWebhookReceiverAt(t, fmt.Sprintf("127.0.0.1:%d", port), nil)
	svc = startService(t, dir, env)
	// A delivery claimed when the process died waits for its lease (20 s).
	recv.WaitFor(t, 45*time.Second, "the delivery after the restart", func(got []testsupport.ReceivedWebhook) bool { return len(got) >= 1 })
	svc.stop() // nothing more can be sent
	got := recv.Received()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d webhooks, want 1", len(got))
	}
	if err := testsupport.VerifyStandardWebhook(hook.Secret, got[0].Header, got[0].Body, time.Now(), time.Minute); err != nil {
		t.Error(err)
	}
	if p := got[0].Payload(t); p.Type != "user.created" || p.Data.User["id"] != u.ID {
		t.Errorf("payload %s", got[0].Body)
	}
	svc = startService(t, dir, env)
	admin = adminClient(t, ctx, svc)
	if log := deliveries(t, ctx, admin, hook.ID); len(log) != 1 || log[0].Status != "delivered" || log[0].EventID != got[0].ID() {
		t.Errorf("deliveries log %+v, want the one delivered", log)
	}
}

// TestTwoInstancesDeliverEachWebhookOnce: two instances on one PostgreSQL
// make each attempt once: with a receiver that always answers, each event
// arrives exactly once (PRODUCT.md 8.8).
func TestTwoInstancesDeliverEachWebhookOnce(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	db := sqlstoretest.NewPostgresURL(t)
	a := startService(t, t.TempDir(), hookEnv(t, db))
	b := startService(t, t.TempDir(), hookEnv(t, db))
	recv := testsupport.NewWebhookReceiver(t, nil)
	createHook(t, ctx, adminClient(t, ctx, a), recv.URL(), "user.created")
	const n = 20
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		_, err := newClient(s.URL).register(ctx, fmt.Sprintf("twice%d@example.com", i), "a long enough passphrase")
		mustOK(t, err)
	}
	recv.WaitFor(t, 30*time.Second, "every event", func(got []testsupport.ReceivedWebhook) bool { return len(got) >= n })
	a.stop()
	b.stop()
	ids := map[string]int{}
	for _, w := range recv.Received() {
		ids[w.ID()]++
	}
	for id, k := range ids {
		if k != 1 {
			t.Errorf("webhook %s arrived %d times, want once", id, k)
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct webhooks arrived, want %d", len(ids), n)
	}
}

// TestWebhooksRefusePrivateAddressesInProduction: in production an
// endpoint must be https and public; WEBHOOK_ALLOW_PRIVATE=true lifts it.
func TestWebhooksRefusePrivateAddressesInProduction(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	prod := baseEnv(t, sqliteURL(t))
	prod["APP_ENV"] = "production"
	prod["SECRETS_KEY"] = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("w", 32)))
	svc := startService(t, t.TempDir(), prod)
	admin := adminClient(t, ctx, svc)
	for _, u := range []string{
		"http://hooks.example.com/usersvc", // not https
		"https://127.0.0.1/usersvc",
		"https://[::1]:8443/usersvc",
		"https://[::ffff:127.0.0.1]/usersvc",
		"https://10.0.0.8/usersvc",
		"https://169.254.169.254/latest/meta-data",
		"https://100.64.0.1/usersvc",
		"https://localhost/usersvc",
	} {
		a := admin.mustRaw(t, ctx, http.MethodPost, "/webhooks", map[string]any{"url": u, "events": []string{"*"}}, nil)
		if a.Status != http.StatusUnprocessableEntity || !strings.Contains(a.Body, `"url"`) {
			t.Errorf("production POST /webhooks %s: %d %s, want 422 on url", u, a.Status, a.Body)
		}
	}
	a := admin.mustRaw(t, ctx, http.MethodPost, "/webhooks", map[string]any{"url": "https://93.184.216.34/usersvc", "events": []string{"*"}}, nil)
	if a.Status != http.StatusCreated {
		t.Errorf("production POST /webhooks to a public address: %d %s", a.Status, a.Body)
	}

	lifted := baseEnv(t, sqliteURL(t))
	for k, v := range prod {
		if k != "HTTP_ADDR" && k != "PUBLIC_BASE_URL" && k != "DATABASE_URL" {
			lifted[k] = v
		}
	}
	lifted["WEBHOOK_ALLOW_PRIVATE"] = "true"
	svc = startService(t, t.TempDir(), lifted)
	admin = adminClient(t, ctx, svc)
	a = admin.mustRaw(t, ctx, http.MethodPost, "/webhooks", map[string]any{"url": "http://127.0.0.1:9/usersvc", "events": []string{"*"}}, nil)
	if a.Status != http.StatusCreated {
		t.Errorf("WEBHOOK_ALLOW_PRIVATE=true: %d %s", a.Status, a.Body)
	}
	if !strings.Contains(svc.logs.String(), "WEBHOOK_ALLOW_PRIVATE=true") {
		t.Error("production with WEBHOOK_ALLOW_PRIVATE=true starts without a warning")
	}
}
