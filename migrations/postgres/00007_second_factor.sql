-- +goose Up
-- The second factor (PRODUCT.md 8.1). TOTP secrets are stored sealed
-- (AES-256-GCM under SECRETS_KEY, bound to the user), never in base32.
-- totp_secret is the secret in force (NULL: no second factor);
-- totp_pending_secret one enrolled and not confirmed yet.
ALTER TABLE users ADD COLUMN totp_secret text;
ALTER TABLE users ADD COLUMN totp_pending_secret text;
-- The time step of the last TOTP code accepted: a code is good once.
ALTER TABLE users ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0
    CONSTRAINT users_totp_last_step_check CHECK (totp_last_step >= 0);
-- The SHA-256 hashes of the ten recovery codes, comma-separated in a fixed
-- order; a used code's place is empty. NULL: none.
ALTER TABLE users ADD COLUMN recovery_code_hashes text;
-- The mfa_token of a login waiting for its second factor, stored hashed
-- like the email-link tokens.
ALTER TABLE users ADD COLUMN mfa_token_hash text;
ALTER TABLE users ADD COLUMN mfa_token_expires_at timestamptz;
CREATE UNIQUE INDEX users_mfa_token_hash_key ON users (mfa_token_hash) WHERE mfa_token_hash IS NOT NULL;

-- How a session's login proved its user: the password, and a second factor
-- when this is true. A refresh keeps it (the amr claim of its tokens).
ALTER TABLE sessions ADD COLUMN second_factor boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE sessions DROP COLUMN second_factor;
DROP INDEX users_mfa_token_hash_key;
ALTER TABLE users DROP COLUMN mfa_token_expires_at;
ALTER TABLE users DROP COLUMN mfa_token_hash;
ALTER TABLE users DROP COLUMN recovery_code_hashes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_pending_secret;
ALTER TABLE users DROP COLUMN totp_secret;
