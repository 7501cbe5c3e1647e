-- +goose Up
-- See the PostgreSQL migration of the same number; SQLite writes changes in
-- transactions and never fills it.
CREATE TABLE change_receipts (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX change_receipts_created_at_idx ON change_receipts (created_at);

-- +goose Down
DROP TABLE change_receipts;
