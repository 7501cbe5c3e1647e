-- +goose Up
-- See the PostgreSQL migration of the same number for the why of each
-- column. SQLite adds no table constraint to an existing table: the
-- checks sit on the columns. Times are TEXT as in users (27 characters, UTC).
ALTER TABLE users ADD COLUMN pending_email TEXT
    CONSTRAINT users_pending_email_check CHECK (length(pending_email) BETWEEN 3 AND 255);
ALTER TABLE users ADD COLUMN email_change_token_hash TEXT;
ALTER TABLE users ADD COLUMN email_change_expires_at TEXT
    CONSTRAINT users_email_change_expires_at_check CHECK (coalesce(length(email_change_expires_at), 27) = 27);
ALTER TABLE users ADD COLUMN email_change_session_id TEXT;
CREATE UNIQUE INDEX users_email_change_token_hash_key ON users (email_change_token_hash)
    WHERE email_change_token_hash IS NOT NULL;

ALTER TABLE users ADD COLUMN invitation_pending INTEGER NOT NULL DEFAULT 0
    CONSTRAINT users_invitation_pending_check CHECK (invitation_pending IN (0, 1));
ALTER TABLE users ADD COLUMN invitation_token_hash TEXT;
ALTER TABLE users ADD COLUMN invitation_expires_at TEXT
    CONSTRAINT users_invitation_expires_at_check CHECK (coalesce(length(invitation_expires_at), 27) = 27);
CREATE UNIQUE INDEX users_invitation_token_hash_key ON users (invitation_token_hash)
    WHERE invitation_token_hash IS NOT NULL;

-- +goose Down
DROP INDEX users_invitation_token_hash_key;
ALTER TABLE users DROP COLUMN invitation_expires_at;
ALTER TABLE users DROP COLUMN invitation_token_hash;
ALTER TABLE users DROP COLUMN invitation_pending;
DROP INDEX users_email_change_token_hash_key;
ALTER TABLE users DROP COLUMN email_change_session_id;
ALTER TABLE users DROP COLUMN email_change_expires_at;
ALTER TABLE users DROP COLUMN email_change_token_hash;
ALTER TABLE users DROP COLUMN pending_email;
