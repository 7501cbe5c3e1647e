-- +goose Up
-- SQLite serves one process: its rate limits stay in memory (the PostgreSQL
-- migration of the same number shares them between instances). The number
-- is kept so both databases count migrations alike.
SELECT 1;

-- +goose Down
SELECT 1;
