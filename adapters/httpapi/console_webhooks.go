package httpapi

import (
	"net/http"
	"net/url"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The console's webhook pages (ADMIN only, as the API's /webhooks): the
// endpoints, a form to add one, its secret shown once, and each endpoint's
// deliveries log.

// consoleDeliveries is how many of an endpoint's latest deliveries its page lists.
const consoleDeliveries = 100

type eventChoice struct {
	Value   string
	Checked bool
}

type webhooksView struct {
	Hooks   []domain.Webhook
	URL     string
	All     bool // "every event, present and future"
	Choices []eventChoice
	Created *app.CreatedWebhook // just created: its secret, shown this once
}

type deliveriesView struct {
	Hook       domain.Webhook
	Deliveries []ports.WebhookDelivery
	Limit      int
}

// webhooksView is the list page's data, the add form filled from form.
func (c *console) webhooksView(hooks []domain.Webhook, form url.Values) webhooksView {
	v := webhooksView{Hooks: hooks, URL: form.Get("url"), All: len(form["event"]) == 0 || form.Get("all") == "on"}
	picked := map[string]bool{}
	for _, e := range form["event"] {
		picked[e] = true
	}
	for _, t := range domain.WebhookEventTypes() {
		v.Choices = append(v.Choices, eventChoice{Value: string(t), Checked: picked[string(t)]})
	}
	return v
}

// showWebhooks renders the list page with status, errors and form's values.
func (c *console) showWebhooks(w http.ResponseWriter, r *http.Request, s consoleSession, status int, form url.Values, created *app.CreatedWebhook, errs []string) {
	hooks, err := c.hooks.ListWebhooks(r.Context(), s.actor)
	if err != nil {
		c.webhooksFailed(w, r, s, err)
		return
	}
	data := c.webhooksView(hooks, form)
	data.Created = created
	v := c.view(s, "admin", "/admin/webhooks", "Webhooks", data)
	v.Errors = errs
	if r.Method == http.MethodGet {
		v.Flash = flash(r)
	}
	c.render(w, r, status, "webhooks", v)
}

// webhooksFailed answers a failed webhook page: a MANAGER is told the
// pages are not theirs, anything else as fail does.
func (c *console) webhooksFailed(w http.ResponseWriter, r *http.Request, s consoleSession, err error) {
	if status, _ := c.describeError(r, err); status == http.StatusForbidden {
		c.renderMessage(w, r, s, status, "Webhooks", "Webhooks are for ADMIN accounts only.", "/admin", "Dashboard")
		return
	}
	c.fail(w, r, s, "Webhooks", err)
}

func (c *console) handleWebhooks(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.showWebhooks(w, r, s, http.StatusOK, url.Values{}, nil, nil)
}

// handleCreateWebhook adds an endpoint and shows its secret on the answer
// itself, never in a URL: it is not kept in the clear anywhere.
func (c *console) handleCreateWebhook(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	in := app.NewWebhookInput{URL: form.Get("url"), Events: form["event"]}
	if form.Get("all") == "on" || len(in.Events) == 0 {
		in.Events = []string{string(domain.WebhookAllEvents)}
	}
	created, err := c.hooks.CreateWebhook(r.Context(), s.actor, in)
	if err != nil {
		status, msgs := c.describeError(r, err)
		if status == http.StatusForbidden || status >= 500 {
			c.webhooksFailed(w, r, s, err)
			return
		}
		c.showWebhooks(w, r, s, status, form, nil, msgs)
		return
	}
	c.showWebhooks(w, r, s, http.StatusCreated, url.Values{}, &created, nil)
}

func (c *console) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, s consoleSession, _ url.Values) {
	if err := c.hooks.DeleteWebhook(r.Context(), s.actor, pathVars(r)["webhook_id"]); err != nil {
		c.webhooksFailed(w, r, s, err)
		return
	}
	redirect(w, "/admin/webhooks?done=webhook-deleted")
}

// handleDeliveries shows an endpoint's latest deliveries, newest first.
func (c *console) handleDeliveries(w http.ResponseWriter, r *http.Request, s consoleSession) {
	id := pathVars(r)["webhook_id"]
	ds, err := c.hooks.ListDeliveries(r.Context(), s.actor, id, consoleDeliveries)
	if err != nil {
		c.webhooksFailed(w, r, s, err)
		return
	}
	hooks, err := c.hooks.ListWebhooks(r.Context(), s.actor)
	if err != nil {
		c.webhooksFailed(w, r, s, err)
		return
	}
	data := deliveriesView{Deliveries: ds, Limit: consoleDeliveries}
	for _, h := range hooks {
		if h.ID == id {
			data.Hook = h
		}
	}
	if data.Hook.ID == "" { // deleted between the two reads
		c.renderMessage(w, r, s, http.StatusNotFound, "Webhook", detailWebhookNotFound+".", "/admin/webhooks", "Webhooks")
		return
	}
	c.render(w, r, http.StatusOK, "deliveries", c.view(s, "admin", "/admin/webhooks", "Deliveries", data))
}
