package httpapi_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
)

var shownSecret = regexp.MustCompile(`<code id="webhook-secret">(whsec_[^<]+)</code>`)

func TestConsoleWebhookPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	recv := testsupport.NewWebhookReceiver(t, nil)
	b := h.browser()
	b.mustSignIn(h.admin.Email, h.admin.Password, "/admin/webhooks")

	list := b.get("/admin/webhooks")
	wantConsolePage(t, list, http.StatusOK, "No webhook yet.", "Add a webhook", `href="/admin/webhooks"`, "user.mfa_disabled")

	// A URL the use case refuses is shown on the form, its values kept.
	rec := b.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {"ftp://example.com/x"}, "event": {"user.created"}})
	wantConsolePage(t, rec, http.StatusUnprocessableEntity, "ftp://example.com/x", `value="user.created" checked`)

	// Added with two events: the secret is on the answer, once.
	rec = b.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {recv.URL() + "/hook"}, "event": {"user.created", "user.deleted"}})
	wantConsolePage(t, rec, http.StatusCreated, "shown only once", recv.URL()+"/hook", "user.created, user.deleted")
	m := shownSecret.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", rec.Body)
	}
	secret := html.UnescapeString(m[1])
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the page with the secret", cc)
	}
	list = b.get("/admin/webhooks")
	if strings.Contains(list.Body.String(), "whsec_") {
		t.Error("the list shows the secret again")
	}
	hooks, err := h.hooks.ListWebhooks(t.Context(), domain.Actor{ID: h.admin.ID, Role: domain.RoleAdmin})
	if err != nil || len(hooks) != 1 {
		t.Fatalf("webhooks %v, %v", hooks, err)
	}
	id := hooks[0].ID
	// Nothing ticked, or "every event": the endpoint gets every event.
	rec = b.submit("/admin/webhooks", "/admin/webhooks", url.Values{"url": {recv.URL() + "/all"}})
	wantConsolePage(t, rec, http.StatusCreated, recv.URL()+"/all", "every event")

	// A change is delivered and shows on the endpoint's deliveries page,
	// signed with the secret the page showed.
	h.register("hooked")
	wantConsolePage(t, b.get("/admin/webhooks/"+id), http.StatusOK, recv.URL()+"/hook", "user.created", "pending")
	h.deliverWebhooks()
	wantConsolePage(t, b.get("/admin/webhooks/"+id), http.StatusOK, "delivered", ">204<")
	got := recv.Received()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests, want one per endpoint", len(got))
	}
	verified := 0 // each endpoint has its own secret: one request verifies with this one
	for _, r := range got {
		if testsupport.VerifyStandardWebhook(secret, r.Header, r.Body, h.clock.Now(), time.Minute) == nil {
			verified++
		}
	}
	if verified != 1 {
		t.Errorf("%d of the deliveries verify with the page's secret, want 1", verified)
	}
	wantConsolePage(t, b.get("/admin/webhooks/not-an-id"), http.StatusNotFound, "Webhook not found.")

	// Deleting needs the session's token; then the endpoint is gone.
	wantConsolePage(t, b.post("/admin/webhooks/"+id+"/delete", consoleOrigin, url.Values{}), http.StatusForbidden, "Nothing was changed")
	rec = b.submit("/admin/webhooks", "/admin/webhooks/"+id+"/delete", nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/webhooks?done=webhook-deleted" {
		t.Fatalf("delete: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	wantConsolePage(t, b.get(rec.Header().Get("Location")), http.StatusOK, "The webhook has been deleted")
	wantConsolePage(t, b.get("/admin/webhooks/"+id), http.StatusNotFound, "Webhook not found.")
}

func TestConsoleWebhookPagesAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	manager := h.user(domain.RoleManager)
	m := h.browser()
	m.mustSignIn(manager.Email, manager.Password, "/admin")
	if strings.Contains(m.get("/admin").Body.String(), `href="/admin/webhooks"`) {
		t.Error("a MANAGER's navigation offers the webhooks, which the API refuses them")
	}
	wantConsolePage(t, m.get("/admin/webhooks"), http.StatusForbidden, "Webhooks are for ADMIN accounts only.")
	wantConsolePage(t, m.submit("/admin", "/admin/webhooks", url.Values{"url": {"https://example.com/x"}}), http.StatusForbidden, "ADMIN accounts only")
	hooks, err := h.hooks.ListWebhooks(t.Context(), domain.Actor{ID: h.admin.ID, Role: domain.RoleAdmin})
	if err != nil || len(hooks) != 0 {
		t.Errorf("a MANAGER's form made webhooks: %v, %v", hooks, err)
	}
	plain := h.verified("plain")
	p := h.browser()
	p.mustSignIn(plain.Email, plain.Password, "/account")
	wantConsolePage(t, p.get("/admin/webhooks"), http.StatusForbidden, "Not for your account")
}
