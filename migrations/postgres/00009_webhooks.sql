-- +goose Up
-- Webhook endpoints (PRODUCT.md 8.6). events is a JSON array of event
-- types, ["*"] for all; secret is the signing secret sealed under
-- SECRETS_KEY with a label naming the endpoint, never the secret itself.
CREATE TABLE webhooks (
    id         uuid        NOT NULL,
    url        text        NOT NULL,
    events     text        NOT NULL,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_url_check CHECK (char_length(url) BETWEEN 1 AND 2048)
);

-- Webhook events: written in the transaction of the user change that owes
-- them, and only when an endpoint subscribes. user_data is the secret-free
-- snapshot of the user the change left (JSON). Ids are UUIDs (version 7)
-- made in Go; an event's id is the webhook-id of each of its deliveries.
CREATE TABLE webhook_events (
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    user_data   text        NOT NULL,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_events_type_check CHECK (type <> '')
);

-- One delivery per event and endpoint subscribed when the event happened,
-- made in the same transaction: the outbox of webhooks. A delivery is
-- pending until delivered (a 2xx answer) or given up (failed); it goes with
-- its endpoint. last_status_code is the last answer's status, NULL when
-- there was none.
CREATE TABLE webhook_deliveries (
    id               uuid        NOT NULL,
    event_id         uuid        NOT NULL,
    webhook_id       uuid        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending',
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    failed_at        timestamptz,
    last_status_code integer,
    last_error       text,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES webhook_events (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_event_webhook_key UNIQUE (event_id, webhook_id),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_attempts_check CHECK (attempts >= 0),
    CONSTRAINT webhook_deliveries_delivered_at_check CHECK ((status = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_failed_at_check CHECK ((status = 'failed') = (failed_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_status_code_check CHECK (last_status_code BETWEEN 100 AND 999),
    CONSTRAINT webhook_deliveries_last_error_check CHECK (char_length(last_error) <= 1000)
);

-- Claiming: the due pending deliveries, most overdue first.
CREATE INDEX webhook_deliveries_pending_next_attempt_at_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
-- The deliveries log of an endpoint, newest first, and the cascade when it is deleted.
CREATE INDEX webhook_deliveries_webhook_id_created_at_idx ON webhook_deliveries (webhook_id, created_at, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
