-- +goose Up
-- See the PostgreSQL migration of the same number for the why of each column.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0
    CONSTRAINT users_totp_last_step_check CHECK (totp_last_step >= 0);
ALTER TABLE users ADD COLUMN recovery_code_hashes TEXT;
ALTER TABLE users ADD COLUMN mfa_token_hash TEXT;
ALTER TABLE users ADD COLUMN mfa_token_expires_at TEXT
    CONSTRAINT users_mfa_token_expires_at_check CHECK (coalesce(length(mfa_token_expires_at), 27) = 27);
CREATE UNIQUE INDEX users_mfa_token_hash_key ON users (mfa_token_hash) WHERE mfa_token_hash IS NOT NULL;

ALTER TABLE sessions ADD COLUMN second_factor INTEGER NOT NULL DEFAULT 0
    CONSTRAINT sessions_second_factor_check CHECK (second_factor IN (0, 1));

-- +goose Down
ALTER TABLE sessions DROP COLUMN second_factor;
DROP INDEX users_mfa_token_hash_key;
ALTER TABLE users DROP COLUMN mfa_token_expires_at;
ALTER TABLE users DROP COLUMN mfa_token_hash;
ALTER TABLE users DROP COLUMN recovery_code_hashes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_pending_secret;
ALTER TABLE users DROP COLUMN totp_secret;
