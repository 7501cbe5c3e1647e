package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/adapters/webhook"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

// webhookAdmin is the webhook use cases a harness serves, with the box
// that seals their secrets (to deliver with).
type webhookAdmin struct {
	*app.Webhooks
	box ports.SecretBox
}

// failingWebhooks fails every webhook use case with err: the faults the
// OpenAPI test answers 500 and 503 with.
type failingWebhooks struct{ err error }

func (f failingWebhooks) CreateWebhook(context.Context, domain.Actor, app.NewWebhookInput) (app.CreatedWebhook, error) {
	return app.CreatedWebhook{}, f.err
}

func (f failingWebhooks) ListWebhooks(context.Context, domain.Actor) ([]domain.Webhook, error) {
	return nil, f.err
}

func (f failingWebhooks) DeleteWebhook(context.Context, domain.Actor, string) error { return f.err }

func (f failingWebhooks) ListDeliveries(context.Context, domain.Actor, string, int) ([]ports.WebhookDelivery, error) {
	return nil, f.err
}

var _ httpapi.WebhookAdmin = failingWebhooks{}

// noDNS resolves nothing: tests never reach a name server.
type noDNS struct{}

func (noDNS) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("no DNS in tests")
}

// newWebhookAdmin builds webhook use cases on store; allowPrivate is
// development's policy, its absence production's.
func newWebhookAdmin(tb testing.TB, store *memory.UserStore, clock ports.Clock, allowPrivate bool) *webhookAdmin {
	tb.Helper()
	box := testBox(tb)
	w, err := app.NewWebhooks(app.WebhookDeps{
		Store: store, SecretBox: box, Resolver: noDNS{}, Clock: clock, IDs: system.IDs{}, Random: rand.Reader,
	}, app.WebhookConfig{AllowPrivate: allowPrivate})
	if err != nil {
		tb.Fatal(err)
	}
	return &webhookAdmin{Webhooks: w, box: box}
}

// deliverWebhooks runs a dispatcher over h's store until nothing is due.
func (h *harness) deliverWebhooks() {
	h.tb.Helper()
	d, err := app.NewWebhookDispatcher(h.store, webhook.New(webhook.Options{AllowPrivate: true}), h.hooks.box, h.clock,
		app.WebhookDispatcherConfig{}, discardLogger())
	if err != nil {
		h.tb.Fatal(err)
	}
	for {
		n, err := d.DeliverDue(context.Background())
		if err != nil {
			h.tb.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

type webhookBody struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    *string  `json:"secret"`
	CreatedAt string   `json:"created_at"`
}

type deliveryBody struct {
	EventID        string  `json:"event_id"`
	Type           string  `json:"type"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"last_status_code"`
	CreatedAt      string  `json:"created_at"`
	DeliveredAt    *string `json:"delivered_at"`
}

func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	admin := h.admin.Token
	recv := testsupport.NewWebhookReceiver(t, func(n int, _ testsupport.ReceivedWebhook) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})

	rec := h.do(http.MethodPost, "/webhooks", admin, obj{"url": recv.URL() + "/hook", "events": []string{"user.created", "user.created"}})
	wantStatus(t, rec, http.StatusCreated)
	var created webhookBody
	decodeBody(t, rec, &created)
	if created.Secret == nil || !strings.HasPrefix(*created.Secret, "whsec_") || len(*created.Secret) != len("whsec_")+44 {
		t.Errorf("secret %v, want whsec_ + base64 of 32 bytes", created.Secret)
	}
	if created.URL != recv.URL()+"/hook" || len(created.Events) != 1 || created.Events[0] != "user.created" || created.CreatedAt == "" {
		t.Errorf("created %+v", created)
	}
	if _, err := time.Parse(time.RFC3339Nano, created.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", created.CreatedAt, err)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the answer with the secret, want no-store", cc)
	}
	rec = h.do(http.MethodPost, "/webhooks/", admin, obj{"url": "http://127.0.0.1:1/other", "events": []string{"*"}})
	wantStatus(t, rec, http.StatusCreated)
	var other webhookBody
	decodeBody(t, rec, &other)

	// The list never shows a secret.
	rec = h.do(http.MethodGet, "/webhooks", admin, nil)
	wantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "whsec_") {
		t.Errorf("GET /webhooks shows a secret: %s", rec.Body)
	}
	var list struct {
		Items []webhookBody `json:"items"`
	}
	decodeBody(t, rec, &list)
	if len(list.Items) != 2 || list.Items[0].ID != created.ID || list.Items[1].ID != other.ID {
		t.Errorf("GET /webhooks = %+v, want both, oldest first", list.Items)
	}

	// A change; its delivery is pending, then retried, then delivered.
	u := h.register("hooked")
	rec = h.do(http.MethodGet, "/webhooks/"+created.ID+"/deliveries", admin, nil)
	wantStatus(t, rec, http.StatusOK)
	var log struct {
		Items []deliveryBody `json:"items"`
	}
	decodeBody(t, rec, &log)
	if len(log.Items) != 1 || log.Items[0].Type != "user.created" || log.Items[0].Status != "pending" || log.Items[0].Attempts != 0 ||
		log.Items[0].LastStatusCode != nil || log.Items[0].DeliveredAt != nil {
		t.Fatalf("deliveries before sending: %s", rec.Body)
	}
	h.deliverWebhooks()
	rec = h.do(http.MethodGet, "/webhooks/"+created.ID+"/deliveries", admin, nil)
	decodeBody(t, rec, &log)
	if d := log.Items[0]; d.Status != "pending" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 500 {
		t.Errorf("after a 500: %s", rec.Body)
	}
	h.clock.Advance(10 * time.Second) // past the first backoff (5 to 7.5 s), within the token's life
	h.deliverWebhooks()
	rec = h.do(http.MethodGet, "/webhooks/"+created.ID+"/deliveries?limit=1", admin, nil)
	decodeBody(t, rec, &log)
	d := log.Items[0]
	if d.Status != "delivered" || d.Attempts != 2 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.DeliveredAt == nil {
		t.Errorf("after a 200: %s", rec.Body)
	}
	got := recv.Received()
	if len(got) != 2 || got[0].ID() != d.EventID || got[1].ID() != d.EventID {
		t.Fatalf("the receiver got %d requests; want 2 with webhook-id %s", len(got), d.EventID)
	}
	if err := testsupport.VerifyStandardWebhook(*created.Secret, got[1].Header, got[1].Body, h.clock.Now(), time.Minute); err != nil {
		t.Errorf("signature: %v", err)
	}
	// The payload's user is the user as GET /users/{id} shows it, without links.
	p := got[1].Payload(t)
	rec = h.do(http.MethodGet, "/users/"+u.ID, admin, nil)
	var shown map[string]any
	decodeBody(t, rec, &shown)
	delete(shown, "links")
	if p.Type != "user.created" || !sameJSON(t, p.Data.User, shown) {
		t.Errorf("payload user %v\nGET /users/{id} %v", p.Data.User, shown)
	}

	// Deleting: 204, then 404 everywhere.
	wantStatus(t, h.do(http.MethodDelete, "/webhooks/"+created.ID, admin, nil), http.StatusNoContent)
	for _, path := range []string{"/webhooks/" + created.ID, "/webhooks/" + created.ID + "/deliveries"} {
		method := http.MethodGet
		if !strings.HasSuffix(path, "deliveries") {
			method = http.MethodDelete
		}
		wantDetail(t, h.do(method, path, admin, nil), http.StatusNotFound, "Webhook not found")
	}
	wantStatus(t, h.do(http.MethodDelete, "/webhooks/not-a-uuid", admin, nil), http.StatusNotFound)
}

func sameJSON(tb testing.TB, a, b map[string]any) bool {
	tb.Helper()
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || strings.TrimSpace(jsonString(tb, v)) != strings.TrimSpace(jsonString(tb, w)) {
			tb.Logf("field %s: %v vs %v", k, v, w)
			return false
		}
	}
	return true
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestWebhooksAPIRefuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mgr, user := h.user(domain.RoleManager), h.user(domain.RoleAuthenticated)
	for _, tok := range []string{mgr.Token, user.Token} {
		// 403 before the body or query is read.
		wantStatus(t, h.do(http.MethodPost, "/webhooks", tok, obj{"nonsense": true}), http.StatusForbidden)
		wantStatus(t, h.do(http.MethodGet, "/webhooks", tok, nil), http.StatusForbidden)
		wantStatus(t, h.do(http.MethodDelete, "/webhooks/"+unknownID, tok, nil), http.StatusForbidden)
		wantStatus(t, h.do(http.MethodGet, "/webhooks/"+unknownID+"/deliveries?limit=zero", tok, nil), http.StatusForbidden)
	}
	wantStatus(t, h.do(http.MethodGet, "/webhooks", "", nil), http.StatusUnauthorized)

	for _, tc := range []struct {
		body any
		loc  string
		typ  string
	}{
		{obj{"url": "not a url", "events": []string{"*"}}, "url", "url_parsing"},
		{obj{"url": "ftp://example.com/x", "events": []string{"*"}}, "url", "url_parsing"},
		{obj{"url": "https://example.com/x", "events": []string{"user.exploded"}}, "events", "enum"},
		{obj{"url": "https://example.com/x", "events": []string{}}, "events", "too_short"},
		{obj{"url": "https://example.com/x", "events": "user.created"}, "events", "list_type"},
		{obj{"url": "https://example.com/x", "events": []any{1}}, "events", "string_type"},
		{obj{"url": "https://example.com/x"}, "events", "missing"},
		{obj{"events": []string{"*"}}, "url", "missing"},
		{obj{"url": "https://example.com/x", "events": []string{"*"}, "secret": "mine"}, "secret", "extra_forbidden"},
	} {
		rec := h.do(http.MethodPost, "/webhooks", h.admin.Token, tc.body)
		wantStatus(t, rec, http.StatusUnprocessableEntity)
		if !strings.Contains(rec.Body.String(), `"`+tc.loc+`"`) || !strings.Contains(rec.Body.String(), `"type":"`+tc.typ+`"`) {
			t.Errorf("POST /webhooks %v: %s; want %s at %s", tc.body, rec.Body, tc.typ, tc.loc)
		}
	}
	rec := h.do(http.MethodPost, "/webhooks", h.admin.Token, obj{"url": "https://example.com/x", "events": []string{"user.exploded"}})
	if !strings.Contains(rec.Body.String(), "user.created") || !strings.Contains(rec.Body.String(), `got \"user.exploded\"`) {
		t.Errorf("an unknown event's message does not list the known ones: %s", rec.Body)
	}
	wantStatus(t, h.do(http.MethodGet, "/webhooks/"+unknownID+"/deliveries?limit=0", h.admin.Token, nil), http.StatusUnprocessableEntity)
	wantStatus(t, h.do(http.MethodGet, "/webhooks/"+unknownID+"/deliveries?limit=1001", h.admin.Token, nil), http.StatusUnprocessableEntity)
	wantStatus(t, h.do(http.MethodGet, "/webhooks/"+unknownID+"/deliveries", h.admin.Token, nil), http.StatusNotFound)

	// Production: https to public addresses only.
	prod := newHarnessWith(t, httpapi.Options{Webhooks: newWebhookAdmin(t, memory.NewUserStore(), h.clock, false)})
	for url, typ := range map[string]string{
		"http://hooks.example.com/x":  "url_scheme",
		"https://127.0.0.1/x":         "value_error",
		"https://[::ffff:10.0.0.1]/x": "value_error",
		"https://localhost:8443/x":    "value_error",
		"https://169.254.169.254/x":   "value_error",
	} {
		rec := prod.do(http.MethodPost, "/webhooks", prod.admin.Token, obj{"url": url, "events": []string{"*"}})
		wantStatus(t, rec, http.StatusUnprocessableEntity)
		if !strings.Contains(rec.Body.String(), `"type":"`+typ+`"`) {
			t.Errorf("production POST %s: %s, want %s", url, rec.Body, typ)
		}
	}
	wantStatus(t, prod.do(http.MethodPost, "/webhooks", prod.admin.Token, obj{"url": "https://hooks.example.com/x", "events": []string{"*"}}), http.StatusCreated)

	// Without webhook use cases, the routes do not exist.
	bare := httpapi.NewServer(discardLogger(), h.svc, httpapi.Options{})
	wantStatus(t, serve(bare, newRequest(t, http.MethodGet, "/webhooks", h.admin.Token, nil)), http.StatusNotFound)
}

// TestOpenAPIWebhookSchemas: the document's event types are the domain's,
// and the user a webhook carries is the User of the answers less links.
func TestOpenAPIWebhookSchemas(t *testing.T) {
	t.Parallel()
	doc := fetchOpenAPI(t, newHarness(t).srv)
	schemas := doc.Components.Schemas
	var want []string
	for _, e := range domain.WebhookEventTypes() {
		want = append(want, string(e))
	}
	var got []string
	for _, v := range schemas["WebhookEventType"].Value.Enum {
		got = append(got, v.(string))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("WebhookEventType enum %v, want the domain's %v", got, want)
	}
	sub := schemas["WebhookSubscription"].Value.Enum
	if len(sub) != len(want)+1 || sub[len(sub)-1] != "*" {
		t.Errorf("WebhookSubscription enum %v, want the event types and *", sub)
	}
	user, hookUser := schemas["User"].Value, schemas["WebhookUser"].Value
	for name := range user.Properties {
		if _, ok := hookUser.Properties[name]; !ok && name != "links" {
			t.Errorf("User has %s, WebhookUser has not", name)
		}
	}
	for name := range hookUser.Properties {
		if _, ok := user.Properties[name]; !ok || name == "links" {
			t.Errorf("WebhookUser has %s, which User has not (or links)", name)
		}
	}
	if doc.Webhooks["userEvent"] == nil || doc.Webhooks["userEvent"].Post == nil {
		t.Error("the document does not describe the webhook request (webhooks.userEvent)")
	}
}
