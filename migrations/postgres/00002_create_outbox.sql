-- +goose Up
-- The transactional outbox: messages owed to users, inserted in the same
-- transaction as the user change that owes them and sent after the commit.
-- Ids are UUIDs (version 7, so id order is creation order) made in Go.
-- A message is pending until it is sent or given up (failed); a sent message
-- loses its link, which holds a secret.
CREATE TABLE outbox (
    id              uuid        NOT NULL,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    name            text        NOT NULL,
    link            text,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'failed')),
    CONSTRAINT outbox_attempts_check CHECK (attempts >= 0),
    CONSTRAINT outbox_sent_at_check CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT outbox_failed_at_check CHECK ((status = 'failed') = (failed_at IS NOT NULL)),
    CONSTRAINT outbox_last_error_check CHECK (char_length(last_error) <= 1000)
);

-- Claiming: the due pending messages, most overdue first.
CREATE INDEX outbox_pending_next_attempt_at_idx ON outbox (next_attempt_at, id) WHERE status = 'pending';

-- +goose Down
DROP TABLE outbox;
