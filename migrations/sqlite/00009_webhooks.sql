-- +goose Up
-- See the PostgreSQL migration of the same number for the why of each
-- table and column. Times are TEXT as in users (27 characters, UTC).
CREATE TABLE webhooks (
    id         TEXT NOT NULL,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_id_check CHECK (length(id) = 36),
    CONSTRAINT webhooks_url_check CHECK (length(url) BETWEEN 1 AND 2048),
    CONSTRAINT webhooks_created_at_check CHECK (length(created_at) = 27)
) STRICT;

CREATE TABLE webhook_events (
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    user_data   TEXT NOT NULL,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_events_id_check CHECK (length(id) = 36),
    CONSTRAINT webhook_events_type_check CHECK (type <> ''),
    CONSTRAINT webhook_events_occurred_at_check CHECK (length(occurred_at) = 27)
) STRICT;

CREATE TABLE webhook_deliveries (
    id               TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    webhook_id       TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    delivered_at     TEXT,
    failed_at        TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES webhook_events (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_event_webhook_key UNIQUE (event_id, webhook_id),
    CONSTRAINT webhook_deliveries_id_check CHECK (length(id) = 36),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_attempts_check CHECK (attempts >= 0),
    CONSTRAINT webhook_deliveries_delivered_at_check CHECK ((status = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_failed_at_check CHECK ((status = 'failed') = (failed_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_status_code_check CHECK (last_status_code BETWEEN 100 AND 999),
    CONSTRAINT webhook_deliveries_last_error_check CHECK (length(last_error) <= 1000),
    CONSTRAINT webhook_deliveries_times_check CHECK (
        length(next_attempt_at) = 27 AND length(created_at) = 27
        AND coalesce(length(delivered_at), 27) = 27
        AND coalesce(length(failed_at), 27) = 27
    )
) STRICT;

CREATE INDEX webhook_deliveries_pending_next_attempt_at_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_id_created_at_idx ON webhook_deliveries (webhook_id, created_at, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
