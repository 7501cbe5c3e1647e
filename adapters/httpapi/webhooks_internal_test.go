package httpapi

// nopWebhooks satisfies WebhookAdmin for building the router, so that the
// webhook routes exist where only the routes are looked at; nothing calls it.
type nopWebhooks struct{ WebhookAdmin }
