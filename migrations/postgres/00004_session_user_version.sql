-- +goose Up
-- A session is valid while it was opened at the user's current token
-- version: a lock, demotion or password reset bumps the version on the user,
-- in the same transaction, and so ends every session without a second write.
ALTER TABLE sessions ADD COLUMN user_version BIGINT NOT NULL DEFAULT 0
    CONSTRAINT sessions_user_version_check CHECK (user_version >= 0);

-- +goose Down
ALTER TABLE sessions DROP COLUMN user_version;
