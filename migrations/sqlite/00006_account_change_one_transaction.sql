-- +goose Up
-- See the PostgreSQL migration of the same number for the why of each column.
ALTER TABLE users ADD COLUMN password_version INTEGER NOT NULL DEFAULT 0
    CONSTRAINT users_password_version_check CHECK (password_version >= 0);
ALTER TABLE users ADD COLUMN lock_reason TEXT
    CONSTRAINT users_lock_reason_check CHECK (lock_reason IN ('failed_logins', 'staff'));
UPDATE users SET lock_reason = 'failed_logins' WHERE is_locked = 1;
ALTER TABLE users ADD COLUMN unlock_token_hash TEXT;
ALTER TABLE users ADD COLUMN unlock_expires_at TEXT
    CONSTRAINT users_unlock_expires_at_check CHECK (coalesce(length(unlock_expires_at), 27) = 27);
CREATE UNIQUE INDEX users_unlock_token_hash_key ON users (unlock_token_hash) WHERE unlock_token_hash IS NOT NULL;

-- SQLite cannot add a NOT NULL column without a default to a table with
-- rows: the store always writes last_used_at, the default only serves rows
-- older than this migration, which the UPDATE fills.
ALTER TABLE sessions ADD COLUMN last_used_at TEXT NOT NULL DEFAULT ''
    CONSTRAINT sessions_last_used_at_check CHECK (length(last_used_at) IN (0, 27));
UPDATE sessions SET last_used_at = created_at;
ALTER TABLE sessions ADD COLUMN ip TEXT
    CONSTRAINT sessions_ip_check CHECK (length(ip) <= 64);
ALTER TABLE sessions ADD COLUMN user_agent TEXT
    CONSTRAINT sessions_user_agent_check CHECK (length(user_agent) <= 255);

-- +goose Down
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN last_used_at;
DROP INDEX users_unlock_token_hash_key;
ALTER TABLE users DROP COLUMN unlock_expires_at;
ALTER TABLE users DROP COLUMN unlock_token_hash;
ALTER TABLE users DROP COLUMN lock_reason;
ALTER TABLE users DROP COLUMN password_version;
