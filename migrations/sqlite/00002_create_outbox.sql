-- +goose Up
-- The transactional outbox: messages owed to users, inserted in the same
-- transaction as the user change that owes them and sent after the commit.
-- Ids are UUIDs (version 7, so id order is creation order) made in Go.
-- A message is pending until it is sent or given up (failed); a sent message
-- loses its link, which holds a secret. Times are TEXT as in users.
CREATE TABLE outbox (
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    link            TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    failed_at       TEXT,
    last_error      TEXT,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_id_check CHECK (length(id) = 36),
    CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'failed')),
    CONSTRAINT outbox_attempts_check CHECK (attempts >= 0),
    CONSTRAINT outbox_sent_at_check CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT outbox_failed_at_check CHECK ((status = 'failed') = (failed_at IS NOT NULL)),
    CONSTRAINT outbox_last_error_check CHECK (length(last_error) <= 1000),
    CONSTRAINT outbox_times_check CHECK (
        length(next_attempt_at) = 27 AND length(created_at) = 27
        AND coalesce(length(sent_at), 27) = 27
        AND coalesce(length(failed_at), 27) = 27
    )
) STRICT;

-- Claiming: the due pending messages, most overdue first.
CREATE INDEX outbox_status_next_attempt_at_idx ON outbox (status, next_attempt_at, id);

-- +goose Down
DROP TABLE outbox;
