package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// WebhookAdmin is the webhook use cases the API calls (app.Webhooks), ADMIN
// only (PRODUCT.md 8.6). Without one (Options.Webhooks) the routes do not
// exist.
type WebhookAdmin interface {
	CreateWebhook(ctx context.Context, actor domain.Actor, in app.NewWebhookInput) (app.CreatedWebhook, error)
	ListWebhooks(ctx context.Context, actor domain.Actor) ([]domain.Webhook, error)
	DeleteWebhook(ctx context.Context, actor domain.Actor, id string) error
	ListDeliveries(ctx context.Context, actor domain.Actor, id string, limit int) ([]ports.WebhookDelivery, error)
}

// Words of the webhook answers.
const detailWebhookNotFound = "Webhook not found"

// addWebhookRoutes registers the webhook routes when there are use cases for them.
func addWebhookRoutes(route func(path string, h http.Handler, methods ...string), actor func(actorHandler) http.Handler, d deps) {
	if d.hooks == nil {
		return
	}
	route("/webhooks", actor(handleCreateWebhook(d.log, d.hooks)), http.MethodPost)
	route("/webhooks", actor(handleListWebhooks(d.log, d.hooks)), http.MethodGet)
	route("/webhooks/{webhook_id}", actor(handleDeleteWebhook(d.log, d.hooks)), http.MethodDelete)
	route("/webhooks/{webhook_id}/deliveries", actor(handleListDeliveries(d.log, d.hooks)), http.MethodGet)
}

// webhookJSON is an endpoint as GET /webhooks shows it: never its secret.
type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// createdWebhookJSON is the answer of POST /webhooks, the one time the
// secret is shown.
type createdWebhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
}

type webhookListJSON struct {
	Items []webhookJSON `json:"items"`
}

// deliveryJSON is one line of an endpoint's deliveries log.
type deliveryJSON struct {
	EventID        string     `json:"event_id"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

type deliveryListJSON struct {
	Items []deliveryJSON `json:"items"`
}

func eventNames(events []domain.WebhookEventType) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, string(e))
	}
	return out
}

func renderWebhook(w domain.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: eventNames(w.Events), CreatedAt: w.CreatedAt.UTC()}
}

// strs reads a field that holds an array of strings; a missing field is
// nil (an error if required), and so is null, which is refused.
func (o *object) strs(name string, required bool) []string {
	raw, ok := o.fields[name]
	if !ok {
		if required {
			o.fail(name, "missing", "Field required")
		}
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		o.fail(name, "list_type", "Input should be a valid list")
		return nil
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		var s string
		if err := json.Unmarshal(item, &s); err != nil || strings.ContainsRune(s, 0) {
			o.errs = append(o.errs, validationItem{Loc: []any{"body", name, i}, Msg: "Input should be a valid string", Type: "string_type"})
			return nil
		}
		out = append(out, s)
	}
	return out
}

// handleCreateWebhook registers an endpoint (ADMIN) and shows its secret,
// this once.
func handleCreateWebhook(log *slog.Logger, uc WebhookAdmin) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := actor.CheckManagesWebhooks(); err != nil { // before reading the body
			writeError(w, r, log, "body", err)
			return
		}
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("url", "events")
		in := app.NewWebhookInput{Events: o.strs("events", true)}
		if u := o.str("url", true, false); u != nil {
			in.URL = *u
		}
		if writeDecodeError(w, o.err()) {
			return
		}
		created, err := uc.CreateWebhook(r.Context(), actor, in)
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		hook := created.Webhook
		w.Header().Set("Location", baseURL(r)+"/webhooks/"+hook.ID)
		w.Header().Set("Cache-Control", "no-store") // the secret
		writeJSON(w, http.StatusCreated, createdWebhookJSON{
			ID: hook.ID, URL: hook.URL, Events: eventNames(hook.Events), Secret: created.Secret, CreatedAt: hook.CreatedAt.UTC(),
		})
	}
}

// handleListWebhooks lists every endpoint (ADMIN), oldest first.
func handleListWebhooks(log *slog.Logger, uc WebhookAdmin) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		hooks, err := uc.ListWebhooks(r.Context(), actor)
		if err != nil {
			writeError(w, r, log, "query", err)
			return
		}
		out := webhookListJSON{Items: make([]webhookJSON, 0, len(hooks))}
		for _, h := range hooks {
			out.Items = append(out.Items, renderWebhook(h))
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// handleDeleteWebhook deletes an endpoint (ADMIN); what it had pending is
// never sent.
func handleDeleteWebhook(log *slog.Logger, uc WebhookAdmin) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.DeleteWebhook(r.Context(), actor, pathVars(r)["webhook_id"]); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleListDeliveries shows an endpoint's deliveries log (ADMIN), newest
// first.
func handleListDeliveries(log *slog.Logger, uc WebhookAdmin) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := actor.CheckManagesWebhooks(); err != nil { // before reading the query
			writeError(w, r, log, "query", err)
			return
		}
		qe := &queryErrors{}
		limit := queryInt(r, qe, "limit", app.DefaultDeliveries)
		if _, given := r.URL.Query()["limit"]; given && limit < 1 {
			qe.fail("limit", "greater_than_equal", "Input should be greater than or equal to 1")
		}
		if writeDecodeError(w, qe.err()) {
			return
		}
		ds, err := uc.ListDeliveries(r.Context(), actor, pathVars(r)["webhook_id"], limit)
		if err != nil {
			writeError(w, r, log, "query", err)
			return
		}
		out := deliveryListJSON{Items: make([]deliveryJSON, 0, len(ds))}
		for _, d := range ds {
			item := deliveryJSON{
				EventID: d.EventID, Type: string(d.Type), Status: string(d.Status), Attempts: d.Attempts,
				CreatedAt: d.CreatedAt.UTC(), DeliveredAt: optionalTime(d.DeliveredAt),
			}
			if d.LastStatusCode != 0 {
				code := d.LastStatusCode
				item.LastStatusCode = &code
			}
			out.Items = append(out.Items, item)
		}
		writeJSON(w, http.StatusOK, out)
	}
}
