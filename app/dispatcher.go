package app

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/usersvc/usersvc/ports"
)

// DispatcherConfig tunes email delivery.
type DispatcherConfig struct {
	MaxAttempts  int           // attempts before a message is given up
	RetryMin     time.Duration // delay after the first failure; doubles per attempt
	RetryMax     time.Duration // longest delay between attempts
	Lease        time.Duration // a claimed message is retried by anyone after this
	BatchSize    int           // messages claimed at once
	PollInterval time.Duration // how often other instances' and retried messages are looked for
	SendTimeout  time.Duration // one SMTP conversation
}

// Dispatcher delivers the outbox: the messages committed with the changes
// that owe them. Delivery is at least once; each message keeps one id, which
// the mailer turns into a stable Message-ID so a repeat can be recognised.
type Dispatcher struct {
	outbox ports.Outbox
	mailer ports.Mailer
	clock  ports.Clock
	cfg    DispatcherConfig
	log    *slog.Logger
	wake   chan struct{}
}

// NewDispatcher checks cfg, filling in defaults for zero values.
func NewDispatcher(outbox ports.Outbox, mailer ports.Mailer, clock ports.Clock, cfg DispatcherConfig, log *slog.Logger) (*Dispatcher, error) {
	if outbox == nil || mailer == nil || clock == nil || log == nil {
		return nil, errors.New("app.NewDispatcher: every dependency is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RetryMin, time.Second)
	def(&cfg.RetryMax, 10*time.Minute)
	def(&cfg.PollInterval, 2*time.Second)
	def(&cfg.SendTimeout, 30*time.Second)
	def(&cfg.Lease, 2*cfg.SendTimeout)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 20
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = cfg.RetryMin
	}
	return &Dispatcher{outbox: outbox, mailer: mailer, clock: clock, cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// Wake asks Run to look at the outbox now. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. A send in progress is finished, not cut, so
// shutting down never leaves a half-sent message behind.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		for {
			n, err := d.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "outbox: claiming messages failed", "error", err)
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

// DeliverDue sends one batch of due messages and reports how many it claimed.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	msgs, err := d.outbox.ClaimMessages(ctx, d.clock.Now(), d.cfg.BatchSize, d.cfg.Lease)
	if err != nil {
		return 0, err
	}
	// Once ctx ends, the rest wait for their lease to run out.
	for i := 0; i < len(msgs) && ctx.Err() == nil; i++ {
		d.deliver(ctx, msgs[i])
	}
	return len(msgs), nil
}

func (d *Dispatcher) deliver(ctx context.Context, m ports.OutboxMessage) {
	// Detached: shutdown must not cut a conversation with the server short.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.SendTimeout)
	defer cancel()
	id, kind := m.Message.ID, string(m.Message.Kind)
	sendErr := d.mailer.Send(sctx, m.Message)
	now := d.clock.Now()
	var err error
	switch {
	case sendErr == nil:
		err = d.outbox.MarkSent(sctx, id, now)
		d.log.InfoContext(ctx, "email sent", "message_id", id, "kind", kind, "attempt", m.Attempts)
	case m.Attempts >= d.cfg.MaxAttempts:
		err = d.outbox.MarkFailed(sctx, id, now, sendErr.Error())
		d.log.ErrorContext(ctx, "email given up", "message_id", id, "kind", kind,
			"attempts", m.Attempts, "error", sendErr)
	default:
		next := now.Add(d.backoff(m.Attempts))
		err = d.outbox.MarkRetry(sctx, id, next, sendErr.Error())
		d.log.WarnContext(ctx, "email not sent, will retry", "message_id", id, "kind", kind,
			"attempt", m.Attempts, "retry_at", next, "error", sendErr)
	}
	if err != nil {
		// The lease runs out and the message is tried again: at least once.
		d.log.WarnContext(ctx, "outbox: recording a delivery failed", "message_id", id, "error", err)
	}
}

// backoff is exponential with jitter: between half and all of
// RetryMin·2^(attempt-1), capped at RetryMax, so instances that failed
// together do not retry together.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	delay := d.cfg.RetryMin
	for i := 1; i < attempt && delay < d.cfg.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, d.cfg.RetryMax)
	half := delay / 2
	return half + rand.N(half+1) //nolint:gosec // jitter, not a secret
}
