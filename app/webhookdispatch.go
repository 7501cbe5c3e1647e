package app

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// WebhookDispatcherConfig tunes webhook delivery (PRODUCT.md 8.6).
type WebhookDispatcherConfig struct {
	MaxAttempts int           // attempts before a delivery is given up; 8 if zero
	RetryMin    time.Duration // delay after the first failure, doubling per attempt; 5 s if zero
	RetryMax    time.Duration // longest delay between attempts; 1 h if zero
	// Timeout bounds one attempt; 10 s if zero. The sender enforces it on
	// the HTTP exchange; the dispatcher gives marking the result a little more.
	Timeout time.Duration
	// Lease is how long a claimed delivery is hidden from other
	// dispatchers; twice Timeout if zero, and never less than Timeout.
	Lease        time.Duration
	BatchSize    int           // deliveries claimed, and sent concurrently, at once; 16 if zero
	PollInterval time.Duration // how often due deliveries are looked for; RetryMin, at most 1 s, if zero
	// Observe, if set, is told the outcome of every attempt (metrics).
	Observe func(DeliveryOutcome)
}

// DeliveryOutcome is what became of one delivery attempt.
type DeliveryOutcome string

// The outcomes of an attempt.
const (
	DeliverySent    DeliveryOutcome = "sent"    // answered 2xx: delivered
	DeliveryRetried DeliveryOutcome = "retried" // failed; another attempt is scheduled
	DeliveryFailed  DeliveryOutcome = "failed"  // failed for the last time: given up
)

// WebhookDispatcher delivers the webhook outbox: the deliveries the user
// changes committed. Delivery is at least once; every attempt of one event
// carries the event's id as webhook-id, so a receiver recognises a repeat.
// Deliveries are claimed with leases, so dispatchers of many instances
// never make one attempt twice.
type WebhookDispatcher struct {
	outbox ports.WebhookOutbox
	sender ports.WebhookSender
	box    ports.SecretBox
	clock  ports.Clock
	cfg    WebhookDispatcherConfig
	log    *slog.Logger
	wake   chan struct{}
}

// NewWebhookDispatcher checks cfg, filling in defaults for zero values.
func NewWebhookDispatcher(outbox ports.WebhookOutbox, sender ports.WebhookSender, box ports.SecretBox, clock ports.Clock,
	cfg WebhookDispatcherConfig, log *slog.Logger) (*WebhookDispatcher, error) {
	if outbox == nil || sender == nil || box == nil || clock == nil || log == nil {
		return nil, errors.New("app.NewWebhookDispatcher: every dependency is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RetryMin, 5*time.Second)
	def(&cfg.RetryMax, time.Hour)
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.Lease, 2*cfg.Timeout)
	def(&cfg.PollInterval, min(cfg.RetryMin, time.Second))
	cfg.Lease = max(cfg.Lease, cfg.Timeout)
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 16
	}
	return &WebhookDispatcher{outbox: outbox, sender: sender, box: box, clock: clock, cfg: cfg, log: log,
		wake: make(chan struct{}, 1)}, nil
}

// Wake asks Run to look for due deliveries now. It never blocks.
func (d *WebhookDispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Attempts in progress are finished, not
// cut, and recorded: shutting down leaves no attempt half made.
func (d *WebhookDispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		for {
			n, err := d.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "webhooks: claiming deliveries failed", "error", err)
			}
			if n < d.cfg.BatchSize || err != nil || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// DeliverDue makes one attempt of each of a batch of due deliveries,
// concurrently, waits for them and reports how many it claimed.
func (d *WebhookDispatcher) DeliverDue(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	batch, err := d.outbox.ClaimDeliveries(ctx, d.clock.Now(), d.cfg.BatchSize, d.cfg.Lease)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, c := range batch {
		wg.Go(func() { d.deliver(ctx, c) })
	}
	wg.Wait()
	return len(batch), nil
}

// markMargin is what marking an attempt's result may take beyond the attempt.
const markMargin = 5 * time.Second

func (d *WebhookDispatcher) deliver(ctx context.Context, c ports.ClaimedDelivery) {
	// Detached: shutdown must not cut an attempt short, nor leave it unrecorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout+markMargin)
	defer cancel()
	log := d.log.With("delivery_id", c.ID, "event_id", c.Event.ID, "webhook_id", c.Webhook.ID,
		"type", string(c.Event.Type), "attempt", c.Attempts)
	status, sendErr := 0, error(nil)
	key, err := d.box.Open(c.Webhook.SealedSecret, domain.WebhookSecretLabel(c.Webhook.ID))
	if err != nil {
		// The secret cannot be opened (SECRETS_KEY changed?): nothing can
		// be signed. The attempt fails and is retried like any other.
		sendErr = errors.New("the webhook's signing secret cannot be opened with SECRETS_KEY")
		log.ErrorContext(ctx, "webhook secret unreadable", "error", err)
	} else {
		sendCtx, cancelSend := context.WithTimeout(sctx, d.cfg.Timeout)
		status, sendErr = d.sender.Send(sendCtx, ports.WebhookRequest{URL: c.Webhook.URL, Event: c.Event, Key: key}, d.clock.Now())
		cancelSend()
	}
	now := d.clock.Now()
	var outcome DeliveryOutcome
	switch {
	case sendErr == nil:
		outcome, err = DeliverySent, d.outbox.MarkDelivered(sctx, c.ID, now, status)
		log.InfoContext(ctx, "webhook delivered", "status", status)
	case c.Attempts >= d.cfg.MaxAttempts:
		outcome, err = DeliveryFailed, d.outbox.MarkDeliveryFailed(sctx, c.ID, now, status, sendErr.Error())
		log.ErrorContext(ctx, "webhook given up", "status", status, "error", sendErr)
	default:
		next := now.Add(d.retryDelay(c.Attempts))
		outcome, err = DeliveryRetried, d.outbox.MarkDeliveryRetry(sctx, c.ID, next, status, sendErr.Error())
		log.WarnContext(ctx, "webhook not delivered, will retry", "status", status, "retry_at", next, "error", sendErr)
	}
	if d.cfg.Observe != nil {
		d.cfg.Observe(outcome)
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		log.InfoContext(ctx, "webhooks: the endpoint was deleted during the attempt")
	case err != nil:
		// The lease runs out and the attempt is made again: at least once.
		log.WarnContext(ctx, "webhooks: recording an attempt failed", "error", err)
	}
}

// retryDelay is the wait after the attempt-th failed attempt: exponential
// from RetryMin, with jitter so that endpoints that failed together are not
// retried together, always within RetryMin..RetryMax. The base doubles per
// attempt up to RetryMax; the delay is drawn from base..1.5·base, or, once
// the base reached RetryMax, from 0.75·RetryMax..RetryMax.
func (d *WebhookDispatcher) retryDelay(attempt int) time.Duration {
	return retryDelay(attempt, d.cfg.RetryMin, d.cfg.RetryMax)
}

func retryDelay(attempt int, lo, hi time.Duration) time.Duration {
	base := lo
	for i := 1; i < attempt && base < hi; i++ {
		base *= 2
	}
	base = min(base, hi)
	from, to := base, min(base+base/2, hi)
	if to <= from {
		from = max(base-base/4, lo)
	}
	if to <= from {
		return from
	}
	return from + rand.N(to-from+1) //nolint:gosec // jitter, not a secret
}
