-- +goose Up
-- A password check proves one password: password_version is bumped when the
-- password changes (not when its hash is only upgraded), so a check made
-- against an older one is recognised as stale.
ALTER TABLE users ADD COLUMN password_version bigint NOT NULL DEFAULT 0
    CONSTRAINT users_password_version_check CHECK (password_version >= 0);
-- Why an account is locked: wrong passwords (new logins stop, sessions go
-- on, the owner may unlock with the link of the lock email) or staff
-- (sessions end, staff unlock).
ALTER TABLE users ADD COLUMN lock_reason text
    CONSTRAINT users_lock_reason_check CHECK (lock_reason IN ('failed_logins', 'staff'));
UPDATE users SET lock_reason = 'failed_logins' WHERE is_locked;
ALTER TABLE users ADD CONSTRAINT users_locked_reason_check CHECK (is_locked = (lock_reason IS NOT NULL));
-- The unlock link of the lock email, stored hashed like the reset link.
ALTER TABLE users ADD COLUMN unlock_token_hash text;
ALTER TABLE users ADD COLUMN unlock_expires_at timestamptz;
CREATE UNIQUE INDEX users_unlock_token_hash_key ON users (unlock_token_hash) WHERE unlock_token_hash IS NOT NULL;

-- What a person sees of their sessions (PRODUCT.md 8.2): the last use (the
-- login or the last refresh), and where the login came from.
ALTER TABLE sessions ADD COLUMN last_used_at timestamptz;
UPDATE sessions SET last_used_at = created_at;
ALTER TABLE sessions ALTER COLUMN last_used_at SET NOT NULL;
ALTER TABLE sessions ADD COLUMN ip text
    CONSTRAINT sessions_ip_check CHECK (char_length(ip) <= 64);
ALTER TABLE sessions ADD COLUMN user_agent text
    CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 255);

-- +goose Down
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN last_used_at;
DROP INDEX users_unlock_token_hash_key;
ALTER TABLE users DROP COLUMN unlock_expires_at;
ALTER TABLE users DROP COLUMN unlock_token_hash;
ALTER TABLE users DROP CONSTRAINT users_locked_reason_check;
ALTER TABLE users DROP COLUMN lock_reason;
ALTER TABLE users DROP COLUMN password_version;
