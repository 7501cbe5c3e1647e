package main

import (
	"crypto/rand"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/metrics"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/adapters/webhook"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/ports"
)

// webhookAttemptTimeout bounds one delivery attempt (PRODUCT.md 8.6: 10 s).
const webhookAttemptTimeout = webhook.DefaultTimeout

// newWebhooks wires the webhook use cases (the ADMIN's /webhooks routes) on
// store, their secrets sealed in box. Outside WEBHOOK_ALLOW_PRIVATE only
// https URLs whose host is public are accepted, looked up with the
// system's resolver.
func newWebhooks(c config, store *sqlstore.Store, box ports.SecretBox) (*app.Webhooks, error) {
	return app.NewWebhooks(app.WebhookDeps{
		Store: store, SecretBox: box, Resolver: net.DefaultResolver, Clock: system.Clock{}, IDs: system.IDs{}, Random: rand.Reader,
	}, app.WebhookConfig{AllowPrivate: c.WebhookAllowPrivate})
}

// newWebhookDispatcher delivers store's webhook deliveries with the
// WEBHOOK_* settings, over connections that, outside WEBHOOK_ALLOW_PRIVATE,
// reach public addresses only; it registers the delivery metrics in reg.
func newWebhookDispatcher(c config, store *sqlstore.Store, box ports.SecretBox, reg prometheus.Registerer,
	log *slog.Logger) (*app.WebhookDispatcher, error) {
	counted, err := metrics.RegisterWebhooks(reg, store.WebhookCounts, metrics.DefaultOutboxTimeout, log)
	if err != nil {
		return nil, err
	}
	sender := webhook.New(webhook.Options{AllowPrivate: c.WebhookAllowPrivate, Timeout: webhookAttemptTimeout})
	return app.NewWebhookDispatcher(store, sender, box, system.Clock{}, app.WebhookDispatcherConfig{
		MaxAttempts: c.WebhookMaxAttempts, RetryMin: c.WebhookRetryMin, RetryMax: c.WebhookRetryMax,
		Timeout: webhookAttemptTimeout,
		Observe: func(o app.DeliveryOutcome) { counted.Count(string(o)) },
	}, log)
}

// webhooksOf is the webhook use cases and dispatcher of a serving process.
func webhooksOf(c config, store *sqlstore.Store, reg prometheus.Registerer, log *slog.Logger) (*app.Webhooks, *app.WebhookDispatcher, error) {
	if c.Production && c.WebhookAllowPrivate {
		log.Warn("APP_ENV=production with WEBHOOK_ALLOW_PRIVATE=true: webhooks may be sent over http and to private addresses (SSRF); unset it unless every ADMIN is trusted with the network")
	}
	box, err := newSecretBox(c, log)
	if err != nil {
		return nil, nil, err
	}
	hooks, err := newWebhooks(c, store, box)
	if err != nil {
		return nil, nil, err
	}
	d, err := newWebhookDispatcher(c, store, box, reg, log)
	if err != nil {
		return nil, nil, err
	}
	return hooks, d, nil
}
