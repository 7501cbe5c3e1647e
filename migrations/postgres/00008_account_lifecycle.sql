-- +goose Up
-- Account lifecycle (PRODUCT.md 8.3 and 8.4). Link tokens live on the user,
-- stored hashed like the reset and unlock links; a hash names one user
-- while it is set (the unique partial indexes), which UserByToken uses.

-- A self-service email change waits for the link mailed to the new
-- address: the address, the link's hash and expiry, and the session that
-- asked (it survives the confirmation, which ends the others).
ALTER TABLE users ADD COLUMN pending_email text
    CONSTRAINT users_pending_email_check CHECK (char_length(pending_email) BETWEEN 3 AND 255);
ALTER TABLE users ADD COLUMN email_change_token_hash text;
ALTER TABLE users ADD COLUMN email_change_expires_at timestamptz;
ALTER TABLE users ADD COLUMN email_change_session_id text;
ALTER TABLE users ADD CONSTRAINT users_email_change_check
    CHECK ((email_change_token_hash IS NULL) = (pending_email IS NULL));
CREATE UNIQUE INDEX users_email_change_token_hash_key ON users (email_change_token_hash)
    WHERE email_change_token_hash IS NOT NULL;

-- An invited account has no password (password_hash is empty) until its
-- owner accepts with the link of the invitation.
ALTER TABLE users ADD COLUMN invitation_pending boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN invitation_token_hash text;
ALTER TABLE users ADD COLUMN invitation_expires_at timestamptz;
CREATE UNIQUE INDEX users_invitation_token_hash_key ON users (invitation_token_hash)
    WHERE invitation_token_hash IS NOT NULL;

-- +goose Down
DROP INDEX users_invitation_token_hash_key;
ALTER TABLE users DROP COLUMN invitation_expires_at;
ALTER TABLE users DROP COLUMN invitation_token_hash;
ALTER TABLE users DROP COLUMN invitation_pending;
DROP INDEX users_email_change_token_hash_key;
ALTER TABLE users DROP CONSTRAINT users_email_change_check;
ALTER TABLE users DROP COLUMN email_change_session_id;
ALTER TABLE users DROP COLUMN email_change_expires_at;
ALTER TABLE users DROP COLUMN email_change_token_hash;
ALTER TABLE users DROP COLUMN pending_email;
