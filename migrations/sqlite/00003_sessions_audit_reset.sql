-- +goose Up
-- Password resets: the pending token's hash and expiry live on the user, like
-- the verification token. Hashes are unique while set, so a hash names one user.
-- Times are TEXT as in users (27 characters, UTC).
ALTER TABLE users ADD COLUMN reset_token_hash TEXT;
ALTER TABLE users ADD COLUMN reset_expires_at TEXT
    CONSTRAINT users_reset_expires_at_check CHECK (coalesce(length(reset_expires_at), 27) = 27);
CREATE UNIQUE INDEX users_reset_token_hash_key ON users (reset_token_hash) WHERE reset_token_hash IS NOT NULL;

-- Login sessions. A session lasts while its refresh tokens are rotated; it
-- goes with its user (sqlstore opens every connection with foreign_keys on).
CREATE TABLE sessions (
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT sessions_id_check CHECK (length(id) = 36),
    CONSTRAINT sessions_times_check CHECK (
        length(created_at) = 27 AND length(expires_at) = 27
        AND coalesce(length(revoked_at), 27) = 27
    )
) STRICT;
-- Revoking a user's sessions, and the cascade when a user is deleted.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Refresh tokens, stored only as hashes. A rotated token stays, so that its
-- reuse is recognised (and revokes the session); it goes with its session.
CREATE TABLE refresh_tokens (
    hash       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (hash),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_times_check CHECK (length(created_at) = 27 AND coalesce(length(rotated_at), 27) = 27)
) STRICT;
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- The audit log of security events. No foreign keys: events outlive the
-- users they name. Ids are UUIDs (version 7, lower case) made in Go, so id
-- order, which is text order here, is the order events were saved in.
CREATE TABLE audit_log (
    id        TEXT NOT NULL,
    type      TEXT NOT NULL,
    actor_id  TEXT,
    target_id TEXT,
    ip        TEXT,
    at        TEXT NOT NULL,
    detail    TEXT,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_id_check CHECK (length(id) = 36),
    CONSTRAINT audit_log_type_check CHECK (type <> ''),
    CONSTRAINT audit_log_at_check CHECK (length(at) = 27)
) STRICT;
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
