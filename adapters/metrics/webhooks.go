package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookCounts reports the webhook deliveries' backlog: those not
// delivered yet and those given up. sqlstore.(*Store).WebhookCounts.
type WebhookCounts func(ctx context.Context) (pending, failed int, err error)

// The outcomes of a webhook delivery attempt, as app.DeliveryOutcome names them.
var webhookOutcomes = []string{"sent", "retried", "failed"}

// WebhookDeliveries counts this process's webhook delivery attempts.
type WebhookDeliveries struct {
	attempts *prometheus.CounterVec
}

// RegisterWebhooks registers usersvc_webhook_deliveries_total{outcome}, the
// attempts this process made by outcome (sent: answered 2xx; retried:
// failed, another attempt scheduled; failed: the last attempt failed, given
// up), and the backlog of every instance together, read through counts at
// each scrape within timeout as the outbox's is: usersvc_webhook_deliveries_pending
// and usersvc_webhook_deliveries_failed (with
// usersvc_webhook_count_errors_total counting failed reads).
func RegisterWebhooks(reg prometheus.Registerer, counts WebhookCounts, timeout time.Duration, log *slog.Logger) (*WebhookDeliveries, error) {
	if timeout <= 0 {
		timeout = DefaultOutboxTimeout
	}
	w := &WebhookDeliveries{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "usersvc_webhook_deliveries_total",
		Help: "Webhook delivery attempts by this process, by outcome: sent (answered 2xx), retried (failed; another attempt scheduled), failed (the last attempt failed; given up).",
	}, []string{"outcome"})}
	for _, o := range webhookOutcomes {
		w.attempts.WithLabelValues(o) // every outcome shows, at 0 until it happens
	}
	backlog := &outboxCollector{
		counts:  OutboxCounts(counts),
		timeout: timeout,
		log:     log,
		pending: prometheus.NewDesc("usersvc_webhook_deliveries_pending",
			"Webhook deliveries not delivered yet: due, waiting for a retry or being sent (the backlog).", nil, nil),
		failed: prometheus.NewDesc("usersvc_webhook_deliveries_failed",
			"Webhook deliveries given up after their last attempt.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersvc_webhook_count_errors_total",
			Help: "Scrapes whose count of webhook deliveries failed or timed out.",
		}),
		what: "webhook deliveries",
	}
	for _, c := range []prometheus.Collector{w.attempts, backlog} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Count records one attempt's outcome: "sent", "retried" or "failed".
func (w *WebhookDeliveries) Count(outcome string) {
	w.attempts.WithLabelValues(outcome).Inc()
}
