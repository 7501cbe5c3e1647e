package ports

import (
	"context"
	"net/netip"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// Webhooks (PRODUCT.md 8.6). The UserStore saves the webhook events a user
// change owes (User.TakeWebhookEvents) in the change's transaction, fanned
// out at once into one delivery per endpoint subscribed then: an event
// exists if and only if its change committed, and an endpoint created
// later never receives what happened before it. Deliveries are then
// claimed, sent and marked through WebhookOutbox, as the email outbox is.

// WebhookStore keeps webhook endpoints and their deliveries log. Every
// implementation passes porttest.Webhooks.
type WebhookStore interface {
	// CreateWebhook stores a new endpoint. Fails with domain.ErrConflict
	// when its id is taken.
	CreateWebhook(ctx context.Context, w domain.Webhook) error
	// ListWebhooks returns every endpoint, oldest first.
	ListWebhooks(ctx context.Context) ([]domain.Webhook, error)
	// DeleteWebhook deletes an endpoint with its deliveries, pending ones
	// included: they are never sent. Fails with domain.ErrWebhookNotFound.
	DeleteWebhook(ctx context.Context, id string) error
	// ListDeliveries returns the deliveries of an endpoint, newest first,
	// at most limit (a store may bound it). Fails with
	// domain.ErrWebhookNotFound.
	ListDeliveries(ctx context.Context, webhookID string, limit int) ([]WebhookDelivery, error)
}

// DeliveryStatus is where a webhook delivery stands.
type DeliveryStatus string

// The delivery states: pending until delivered (a 2xx answer) or given up.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event sent (or to be sent) to one endpoint, as
// the deliveries log shows it.
type WebhookDelivery struct {
	ID             string // the delivery's own id
	EventID        string // the webhook-id every attempt carries
	Type           domain.WebhookEventType
	Status         DeliveryStatus
	Attempts       int       // claimed so far, the current one included
	LastStatusCode int       // of the last answer; 0: none yet, or no HTTP answer
	CreatedAt      time.Time // when the event happened
	DeliveredAt    time.Time // zero unless delivered
}

// ClaimedDelivery is a delivery leased for one attempt, with what sending
// it needs.
type ClaimedDelivery struct {
	ID       string // the delivery's id, for marking it
	Attempts int    // the current one included
	Event    domain.WebhookEvent
	Webhook  domain.Webhook
}

// WebhookOutbox is the delivery side of the webhook events the UserStore
// saved. Every implementation passes porttest.Webhooks.
type WebhookOutbox interface {
	// ClaimDeliveries leases up to limit pending deliveries that are due
	// (next attempt at or before now), most overdue first, and counts an
	// attempt on each. No other claimer gets a leased delivery until the
	// lease ends or it is marked, so concurrent dispatchers never make one
	// attempt twice.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ClaimedDelivery, error)
	// MarkDelivered records a delivery answered with statusCode (2xx). A
	// delivered delivery stays delivered.
	MarkDelivered(ctx context.Context, id string, now time.Time, statusCode int) error
	// MarkDeliveryRetry schedules the next attempt at next, after an
	// attempt answered with statusCode (0: no answer) or failing with
	// lastError. It does nothing to a delivery no longer pending.
	MarkDeliveryRetry(ctx context.Context, id string, next time.Time, statusCode int, lastError string) error
	// MarkDeliveryFailed gives the delivery up after its last attempt; it
	// is never claimed again. It does nothing to a delivery no longer
	// pending.
	MarkDeliveryFailed(ctx context.Context, id string, now time.Time, statusCode int, lastError string) error
}

// All three Mark methods fail with domain.ErrNotFound for an unknown
// delivery (one whose endpoint was deleted meanwhile, say).

// WebhookRequest is one attempt to deliver an event to an endpoint.
type WebhookRequest struct {
	URL   string
	Event domain.WebhookEvent // Event.ID is the webhook-id
	Key   []byte              // the signing key: the secret after whsec_, decoded
}

// WebhookSender makes delivery attempts.
type WebhookSender interface {
	// Send POSTs the event to its endpoint, signed at now, and returns the
	// answer's status (0 when there was none). err is nil exactly when the
	// endpoint answered 2xx.
	Send(ctx context.Context, r WebhookRequest, now time.Time) (status int, err error)
}

// Resolver looks host names up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}
