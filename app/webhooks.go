package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// WebhookDeps are the ports of the webhook use cases; every one is required.
type WebhookDeps struct {
	Store     ports.WebhookStore
	SecretBox ports.SecretBox // seals the signing secrets
	Resolver  ports.Resolver  // checks where a new endpoint's host points
	Clock     ports.Clock
	IDs       ports.IDs
	Random    io.Reader // the signing secrets' randomness: crypto/rand.Reader
}

// WebhookConfig is the webhook use cases' policy.
type WebhookConfig struct {
	// AllowPrivate accepts any http(s) URL (development, tests); without
	// it only https URLs whose host is a public address, or a name that
	// resolves to public addresses only, are accepted.
	AllowPrivate bool
	// ResolveTimeout bounds the lookup of a new endpoint's host; 5 s if zero.
	ResolveTimeout time.Duration
}

// Webhooks runs the ADMIN's webhook use cases: endpoints and their
// deliveries log. The events themselves are recorded by the user changes
// (domain.User.Record) and delivered by a WebhookDispatcher.
type Webhooks struct {
	store    ports.WebhookStore
	box      ports.SecretBox
	resolver ports.Resolver
	clock    ports.Clock
	ids      ports.IDs
	random   io.Reader
	cfg      WebhookConfig
}

// NewWebhooks builds the webhook use cases.
func NewWebhooks(d WebhookDeps, cfg WebhookConfig) (*Webhooks, error) {
	if d.Store == nil || d.SecretBox == nil || d.Resolver == nil || d.Clock == nil || d.IDs == nil || d.Random == nil {
		return nil, errors.New("app.NewWebhooks: every dependency is required")
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = 5 * time.Second
	}
	return &Webhooks{store: d.Store, box: d.SecretBox, resolver: d.Resolver, clock: d.Clock, ids: d.IDs, random: d.Random, cfg: cfg}, nil
}

// WebhookSecretPrefix starts every signing secret, as Standard Webhooks
// serialises symmetric keys.
const WebhookSecretPrefix = "whsec_"

// webhookKeyLen is the size of a signing key, in bytes.
const webhookKeyLen = 32

// CodeNoWebhookEvents: a new endpoint subscribes to no event type (an empty list).
const CodeNoWebhookEvents domain.Code = "no_webhook_events"

// Limits of ListDeliveries.
const (
	DefaultDeliveries = 100
	MaxDeliveries     = 1000
)

// NewWebhookInput is an endpoint to create: its URL and the event types it
// subscribes to (["*"] for all).
type NewWebhookInput struct {
	URL    string
	Events []string // nil: not given
}

// CreatedWebhook is a new endpoint with its signing secret, which is shown
// this once: only its sealed form is kept.
type CreatedWebhook struct {
	Webhook domain.Webhook
	Secret  string // "whsec_" + base64 of 32 random bytes
}

// CreateWebhook registers an endpoint for an ADMIN.
func (w *Webhooks) CreateWebhook(ctx context.Context, actor domain.Actor, in NewWebhookInput) (CreatedWebhook, error) {
	out, err := w.createWebhook(ctx, actor, in)
	if err != nil {
		return CreatedWebhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return out, nil
}

func (w *Webhooks) createWebhook(ctx context.Context, actor domain.Actor, in NewWebhookInput) (CreatedWebhook, error) {
	if err := actor.CheckManagesWebhooks(); err != nil {
		return CreatedWebhook{}, err
	}
	v := &domain.ValidationError{}
	raw, err := domain.CheckWebhookURL(in.URL, !w.cfg.AllowPrivate)
	v.Merge(err)
	events, err := parseWebhookEvents(in.Events)
	v.Merge(err)
	if err := v.Err(); err != nil {
		return CreatedWebhook{}, err
	}
	if !w.cfg.AllowPrivate {
		if err := w.checkResolvesPublic(ctx, raw); err != nil {
			return CreatedWebhook{}, err
		}
	}
	key := make([]byte, webhookKeyLen)
	if _, err := io.ReadFull(w.random, key); err != nil {
		return CreatedWebhook{}, fmt.Errorf("signing secret: %w", err)
	}
	id := w.ids.NewID()
	sealed, err := w.box.Seal(key, domain.WebhookSecretLabel(id))
	if err != nil {
		return CreatedWebhook{}, fmt.Errorf("seal signing secret: %w", err)
	}
	hook := domain.Webhook{ID: id, URL: raw, Events: events, SealedSecret: sealed, CreatedAt: w.clock.Now().UTC()}
	if err := w.store.CreateWebhook(ctx, hook); err != nil {
		return CreatedWebhook{}, err
	}
	return CreatedWebhook{Webhook: hook, Secret: WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)}, nil
}

// parseWebhookEvents checks the event types of a new endpoint: at least
// one, each a known type or "*". Repeats are dropped, and "*" stands alone.
func parseWebhookEvents(in []string) ([]domain.WebhookEventType, error) {
	const field = "events"
	if in == nil {
		return nil, domain.FieldInvalid(domain.FieldError{Field: field, Code: domain.CodeRequired})
	}
	if len(in) == 0 {
		return nil, domain.FieldInvalid(domain.FieldError{Field: field, Code: CodeNoWebhookEvents})
	}
	known := domain.WebhookEventTypes()
	names := make([]string, 0, len(known)+1)
	for _, k := range known {
		names = append(names, string(k))
	}
	names = append(names, string(domain.WebhookAllEvents))
	out := make([]domain.WebhookEventType, 0, len(in))
	for _, s := range in {
		t := domain.WebhookEventType(s)
		if !slices.Contains(names, s) {
			return nil, domain.FieldInvalid(domain.FieldError{Field: field, Code: domain.CodeNotOneOf, Values: names, Got: s})
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if slices.Contains(out, domain.WebhookAllEvents) {
		return []domain.WebhookEventType{domain.WebhookAllEvents}, nil
	}
	return out, nil
}

// checkResolvesPublic refuses a URL whose host name resolves to any
// address that is not public. A name that does not resolve now is
// accepted: it may later, and every connection checks the address it
// reaches (DNS rebinding makes this check advisory in any case).
func (w *Webhooks) checkResolvesPublic(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return domain.FieldInvalid(domain.FieldError{Field: "url", Code: domain.CodeURLNotAbsolute})
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an address literal: CheckWebhookURL judged it
	}
	lctx, cancel := context.WithTimeout(ctx, w.cfg.ResolveTimeout)
	defer cancel()
	addrs, err := w.resolver.LookupNetIP(lctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	for _, a := range addrs {
		if !domain.IsPublicAddress(a) {
			return domain.FieldInvalid(domain.FieldError{Field: "url", Code: domain.CodeURLNotPublic})
		}
	}
	return nil
}

// ListWebhooks returns every endpoint to an ADMIN, oldest first; their
// secrets are never shown again.
func (w *Webhooks) ListWebhooks(ctx context.Context, actor domain.Actor) ([]domain.Webhook, error) {
	if err := actor.CheckManagesWebhooks(); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	hooks, err := w.store.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return hooks, nil
}

// DeleteWebhook deletes an endpoint for an ADMIN; what it had pending is
// never sent. Fails with domain.ErrWebhookNotFound.
func (w *Webhooks) DeleteWebhook(ctx context.Context, actor domain.Actor, id string) error {
	if err := actor.CheckManagesWebhooks(); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return fmt.Errorf("delete webhook: %w", domain.ErrWebhookNotFound)
	}
	if err := w.store.DeleteWebhook(ctx, id); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// ListDeliveries returns an endpoint's deliveries to an ADMIN, newest
// first, at most limit (0: DefaultDeliveries; 1..MaxDeliveries). Fails
// with domain.ErrWebhookNotFound.
func (w *Webhooks) ListDeliveries(ctx context.Context, actor domain.Actor, id string, limit int) ([]ports.WebhookDelivery, error) {
	if err := actor.CheckManagesWebhooks(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	if limit == 0 {
		limit = DefaultDeliveries
	}
	if limit < 1 || limit > MaxDeliveries {
		return nil, fmt.Errorf("list deliveries: %w", domain.FieldInvalid(domain.FieldError{
			Field: "limit", Code: domain.CodeOutOfRange, Min: 1, Max: MaxDeliveries,
		}))
	}
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return nil, fmt.Errorf("list deliveries: %w", domain.ErrWebhookNotFound)
	}
	out, err := w.store.ListDeliveries(ctx, id, limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}
