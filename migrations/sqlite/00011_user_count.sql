-- +goose Up
-- See the PostgreSQL migration of the same number.
CREATE TABLE user_count (
    id INTEGER PRIMARY KEY CONSTRAINT user_count_one_row CHECK (id = 1),
    n  INTEGER NOT NULL CONSTRAINT user_count_n_check CHECK (n >= 0)
) STRICT;
INSERT INTO user_count (id, n) SELECT 1, count(*) FROM users;

-- +goose Down
DROP TABLE user_count;
