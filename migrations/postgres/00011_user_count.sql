-- +goose Up
-- The number of users, kept by the transactions that insert and delete
-- them, so that the seed's list page, which answers the total, need not
-- count a million rows (an exact count in PostgreSQL reads every row).
CREATE TABLE user_count (
    id boolean PRIMARY KEY DEFAULT true CONSTRAINT user_count_one_row CHECK (id),
    n  bigint  NOT NULL CONSTRAINT user_count_n_check CHECK (n >= 0)
);
INSERT INTO user_count (n) SELECT count(*) FROM users;

-- +goose Down
DROP TABLE user_count;
