-- +goose Up
-- Search, filter and sort of GET /users/ (sqlstore/search.go). Text keys are
-- ordered by code point, COLLATE "C", whatever the database's collation:
-- that is SQLite's and Go's order too, and in it a prefix of a key is a
-- range, which these indexes serve, as they serve keyset pages (key, id).
-- users_email_key cannot: its collation is the database's. The order by
-- created_at has users_created_at_id_idx (00001).
CREATE INDEX users_email_sort_idx ON users (email COLLATE "C", id);
CREATE INDEX users_nickname_sort_idx ON users (lower(nickname) COLLATE "C", id);

-- +goose Down
DROP INDEX users_nickname_sort_idx;
DROP INDEX users_email_sort_idx;
