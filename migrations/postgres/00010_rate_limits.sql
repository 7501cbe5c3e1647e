-- +goose Up
-- Rate-limit budgets every instance counts against together (PRODUCT.md
-- 8.8), one row a key, kept as GCRA's theoretical arrival time: a key is
-- allowed while tat - now stays under its period. UNLOGGED: a crash empties
-- the table, which only forgives some requests; it spares the WAL a write
-- per limited request. A row whose tat is past is a full budget, the same
-- as no row: the service deletes such rows now and then.
CREATE UNLOGGED TABLE rate_limits (
    key text        NOT NULL,
    tat timestamptz NOT NULL,
    ok  boolean     NOT NULL DEFAULT true,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (key),
    CONSTRAINT rate_limits_key_check CHECK (char_length(key) <= 200)
);
CREATE INDEX rate_limits_tat_idx ON rate_limits (tat);

-- +goose Down
DROP TABLE rate_limits;
