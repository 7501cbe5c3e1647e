package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

var (
	_ ports.WebhookStore  = (*UserStore)(nil)
	_ ports.WebhookOutbox = (*UserStore)(nil)
)

// webhookState holds the endpoints and their deliveries, guarded by
// UserStore.mu. Its zero value is empty and ready.
type webhookState struct {
	endpoints  []domain.Webhook // in creation order
	deliveries []*delivery      // in insertion order
	seq        int
}

// delivery is one event to one endpoint, as the SQL stores keep it.
type delivery struct {
	seq            int
	id             string
	event          domain.WebhookEvent
	webhookID      string
	status         ports.DeliveryStatus
	attempts       int
	next           time.Time
	deliveredAt    time.Time
	failedAt       time.Time
	lastStatusCode int
	lastError      string
}

// fanOut makes the deliveries of events to the endpoints subscribed now,
// due at once, without saving them: the caller appends them once nothing
// else can fail. Events nobody subscribes to are dropped. The caller
// holds mu.
func (s *UserStore) fanOut(events []domain.WebhookEvent) ([]*delivery, error) {
	var out []*delivery
	for _, e := range events {
		eventID := ""
		for _, w := range s.hooks.endpoints {
			if !w.Subscribes(e.Type) {
				continue
			}
			if e.Type == "" || e.At.IsZero() {
				return nil, fmt.Errorf("memory: webhook event %+v has no type or time: %w", e, domain.ErrInvalid)
			}
			if eventID == "" {
				id, err := uuid.NewV7()
				if err != nil {
					return nil, fmt.Errorf("memory: webhook event id: %w", err)
				}
				eventID = id.String()
			}
			id, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("memory: webhook delivery id: %w", err)
			}
			ev := e
			ev.ID, ev.At = eventID, e.At.UTC()
			out = append(out, &delivery{id: id.String(), event: ev, webhookID: w.ID,
				status: ports.DeliveryPending, next: ev.At})
		}
	}
	return out, nil
}

// appendDeliveries saves deliveries made by fanOut. The caller holds mu.
func (s *UserStore) appendDeliveries(ds []*delivery) {
	for _, d := range ds {
		s.hooks.seq++
		d.seq = s.hooks.seq
		s.hooks.deliveries = append(s.hooks.deliveries, d)
	}
}

// CreateWebhook implements ports.WebhookStore.
func (s *UserStore) CreateWebhook(ctx context.Context, w domain.Webhook) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, ok := domain.CanonicalUserID(w.ID)
	if !ok {
		return fmt.Errorf("memory: create webhook: id %q is not a UUID: %w", w.ID, domain.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.hooks.endpoints, func(o domain.Webhook) bool { return o.ID == id }) {
		return fmt.Errorf("memory: create webhook: id %s already exists: %w", id, domain.ErrConflict)
	}
	w.ID, w.CreatedAt, w.Events = id, w.CreatedAt.UTC(), slices.Clone(w.Events)
	s.hooks.endpoints = append(s.hooks.endpoints, w)
	return nil
}

// ListWebhooks implements ports.WebhookStore.
func (s *UserStore) ListWebhooks(ctx context.Context) ([]domain.Webhook, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]domain.Webhook, 0, len(s.hooks.endpoints))
	for _, w := range s.hooks.endpoints {
		w.Events = slices.Clone(w.Events)
		out = append(out, w)
	}
	slices.SortStableFunc(out, func(a, b domain.Webhook) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteWebhook implements ports.WebhookStore.
func (s *UserStore) DeleteWebhook(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, _ = domain.CanonicalUserID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.hooks.endpoints, func(w domain.Webhook) bool { return w.ID == id })
	if i < 0 {
		return domain.ErrWebhookNotFound
	}
	s.hooks.endpoints = slices.Delete(s.hooks.endpoints, i, i+1)
	s.hooks.deliveries = slices.DeleteFunc(s.hooks.deliveries, func(d *delivery) bool { return d.webhookID == id })
	return nil
}

// ListDeliveries implements ports.WebhookStore: newest first, at most limit
// (zero or less: 100; at most 1000), as the SQL stores.
func (s *UserStore) ListDeliveries(ctx context.Context, webhookID string, limit int) ([]ports.WebhookDelivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	id, _ := domain.CanonicalUserID(webhookID)
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !slices.ContainsFunc(s.hooks.endpoints, func(w domain.Webhook) bool { return w.ID == id }) {
		return nil, domain.ErrWebhookNotFound
	}
	var mine []*delivery
	for _, d := range s.hooks.deliveries {
		if d.webhookID == id {
			mine = append(mine, d)
		}
	}
	slices.SortFunc(mine, func(a, b *delivery) int {
		return cmp.Or(b.event.At.Compare(a.event.At), strings.Compare(b.id, a.id))
	})
	out := make([]ports.WebhookDelivery, 0, min(limit, len(mine)))
	for _, d := range mine[:min(limit, len(mine))] {
		out = append(out, ports.WebhookDelivery{
			ID: d.id, EventID: d.event.ID, Type: d.event.Type, Status: d.status, Attempts: d.attempts,
			LastStatusCode: d.lastStatusCode, CreatedAt: d.event.At, DeliveredAt: d.deliveredAt,
		})
	}
	return out, nil
}

// ClaimDeliveries implements ports.WebhookOutbox: the due pending
// deliveries most overdue first, returned oldest event first.
func (s *UserStore) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ports.ClaimedDelivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*delivery
	for _, d := range s.hooks.deliveries {
		if d.status == ports.DeliveryPending && !d.next.After(now) {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *delivery) int { return cmp.Or(a.next.Compare(b.next), strings.Compare(a.id, b.id)) })
	due = due[:min(max(limit, 0), len(due))]
	slices.SortFunc(due, func(a, b *delivery) int {
		return cmp.Or(a.event.At.Compare(b.event.At), strings.Compare(a.event.ID, b.event.ID), strings.Compare(a.id, b.id))
	})
	until := now.Add(max(lease, 0)).UTC()
	out := make([]ports.ClaimedDelivery, 0, len(due))
	for _, d := range due {
		d.attempts++
		d.next = until
		i := slices.IndexFunc(s.hooks.endpoints, func(w domain.Webhook) bool { return w.ID == d.webhookID })
		w := s.hooks.endpoints[i] // deliveries go with their endpoint
		w.Events = slices.Clone(w.Events)
		out = append(out, ports.ClaimedDelivery{ID: d.id, Attempts: d.attempts, Event: d.event, Webhook: w})
	}
	return out, nil
}

// MarkDelivered implements ports.WebhookOutbox. A delivered delivery stays
// delivered.
func (s *UserStore) MarkDelivered(ctx context.Context, id string, now time.Time, statusCode int) error {
	return s.markDelivery(ctx, id, func(d *delivery) {
		if d.status != ports.DeliveryDelivered {
			d.status, d.deliveredAt, d.failedAt = ports.DeliveryDelivered, now.UTC(), time.Time{}
			d.lastStatusCode, d.lastError = statusCode, ""
		}
	})
}

// MarkDeliveryRetry implements ports.WebhookOutbox.
func (s *UserStore) MarkDeliveryRetry(ctx context.Context, id string, next time.Time, statusCode int, lastError string) error {
	return s.markDelivery(ctx, id, func(d *delivery) {
		if d.status == ports.DeliveryPending {
			d.next, d.lastStatusCode, d.lastError = next.UTC(), statusCode, lastError
		}
	})
}

// MarkDeliveryFailed implements ports.WebhookOutbox.
func (s *UserStore) MarkDeliveryFailed(ctx context.Context, id string, now time.Time, statusCode int, lastError string) error {
	return s.markDelivery(ctx, id, func(d *delivery) {
		if d.status == ports.DeliveryPending {
			d.status, d.failedAt, d.lastStatusCode, d.lastError = ports.DeliveryFailed, now.UTC(), statusCode, lastError
		}
	})
}

// markDelivery applies change to delivery id, failing with
// domain.ErrNotFound when there is no such delivery.
func (s *UserStore) markDelivery(ctx context.Context, id string, change func(d *delivery)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if uid, err := uuid.Parse(id); err == nil {
		id = uid.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.hooks.deliveries, func(d *delivery) bool { return d.id == id })
	if i < 0 {
		return fmt.Errorf("memory: webhook delivery %q: %w", id, domain.ErrNotFound)
	}
	change(s.hooks.deliveries[i])
	return nil
}

// WebhookCounts reports the deliveries not yet delivered and those given
// up, as the SQL stores do for metrics.
func (s *UserStore) WebhookCounts(ctx context.Context) (pending, failed int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range s.hooks.deliveries {
		switch d.status {
		case ports.DeliveryPending:
			pending++
		case ports.DeliveryFailed:
			failed++
		}
	}
	return pending, failed, nil
}
