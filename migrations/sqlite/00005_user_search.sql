-- +goose Up
-- Search, filter and sort of GET /users/ (sqlstore/search.go). Text keys are
-- ordered by code point (BINARY, SQLite's default); in that order a prefix
-- of a key is a range of its index, as a keyset page (key, id) is. Email
-- order needs no new index: users_email_key is unique, so SQLite reads it
-- for (email, id). It does not infer that of an expression, so lower(nickname)
-- gets its (key, id) index; created_at has users_created_at_id_idx (00001).
CREATE INDEX users_nickname_sort_idx ON users (lower(nickname), id);

-- +goose Down
DROP INDEX users_nickname_sort_idx;
