-- +goose Up
-- A receipt for every account change written as one statement (see
-- adapters/sqlstore/onestatement.go): the statement writes its receipt with
-- the change and looks for it, so that a statement run a second time by the
-- driver (database/sql runs a statement again when its connection failed,
-- even after the server ran it) finds that its first run wrote, and the
-- change is not made twice. Receipts older than ten minutes are pruned.
CREATE TABLE change_receipts (
    id         text        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Written in time order: a BRIN index is all pruning needs, and costs
-- inserts next to nothing.
CREATE INDEX change_receipts_created_at_idx ON change_receipts USING brin (created_at);

-- +goose Down
DROP TABLE change_receipts;
