-- +goose Up
-- Password resets: the pending token's hash and expiry live on the user, like
-- the verification token. Hashes are unique while set, so a hash names one user.
ALTER TABLE users ADD COLUMN reset_token_hash text;
ALTER TABLE users ADD COLUMN reset_expires_at timestamptz;
CREATE UNIQUE INDEX users_reset_token_hash_key ON users (reset_token_hash) WHERE reset_token_hash IS NOT NULL;

-- Login sessions. A session lasts while its refresh tokens are rotated; it
-- goes with its user. Ids are UUIDs made by the service.
CREATE TABLE sessions (
    id         uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
-- Revoking a user's sessions, and the cascade when a user is deleted.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Refresh tokens, stored only as hashes. A rotated token stays, so that its
-- reuse is recognised (and revokes the session); it goes with its session.
CREATE TABLE refresh_tokens (
    hash       text        NOT NULL,
    session_id uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    rotated_at timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (hash),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- The audit log of security events. No foreign keys: events outlive the
-- users they name. Ids are UUIDs (version 7) made in Go, so id order is the
-- order events were saved in; listing is newest first by id.
CREATE TABLE audit_log (
    id        uuid        NOT NULL,
    type      text        NOT NULL,
    actor_id  text,
    target_id text,
    ip        text,
    at        timestamptz NOT NULL,
    detail    text,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_type_check CHECK (type <> '')
);
-- One index per filter, each ending in id for the newest-first order.
CREATE INDEX audit_log_at_id_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_id_id_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_target_id_id_idx ON audit_log (target_id, id);
CREATE INDEX audit_log_type_id_idx ON audit_log (type, id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP INDEX users_reset_token_hash_key;
ALTER TABLE users DROP COLUMN reset_expires_at;
ALTER TABLE users DROP COLUMN reset_token_hash;
