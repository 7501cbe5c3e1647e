-- +goose Up
-- Limits mirror domain/validate.go; the domain checks first, these are the backstop.
-- Times are TEXT, RFC 3339 in UTC with exactly six fractional digits
-- (2006-01-02T15:04:05.000000Z), so text order is time order.
-- Booleans are INTEGER 0/1. Index names are matched by sqlstore.
CREATE TABLE users (
    id                             TEXT    NOT NULL,
    email                          TEXT    NOT NULL,
    nickname                       TEXT    NOT NULL,
    password_hash                  TEXT    NOT NULL,
    first_name                     TEXT,
    last_name                      TEXT,
    bio                            TEXT,
    preferred_language             TEXT,
    profile_picture_url            TEXT,
    linkedin_profile_url           TEXT,
    github_profile_url             TEXT,
    role                           TEXT    NOT NULL,
    is_professional                INTEGER NOT NULL DEFAULT 0,
    professional_status_updated_at TEXT,
    email_verified                 INTEGER NOT NULL DEFAULT 0,
    verification_token_hash        TEXT,
    verification_expires_at        TEXT,
    failed_login_attempts          INTEGER NOT NULL DEFAULT 0,
    logins_in_flight               INTEGER NOT NULL DEFAULT 0,
    login_lease_until              TEXT,
    is_locked                      INTEGER NOT NULL DEFAULT 0,
    locked_at                      TEXT,
    last_login_at                  TEXT,
    created_at                     TEXT    NOT NULL,
    updated_at                     TEXT    NOT NULL,
    token_version                  INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_id_check CHECK (length(id) = 36),
    CONSTRAINT users_email_check CHECK (length(email) BETWEEN 3 AND 255),
    CONSTRAINT users_nickname_check CHECK (length(nickname) BETWEEN 3 AND 50 AND nickname NOT GLOB '*[^A-Za-z0-9_-]*'),
    CONSTRAINT users_first_name_check CHECK (length(first_name) <= 100),
    CONSTRAINT users_last_name_check CHECK (length(last_name) <= 100),
    CONSTRAINT users_bio_check CHECK (length(bio) <= 500),
    CONSTRAINT users_preferred_language_check CHECK (length(preferred_language) <= 50),
    CONSTRAINT users_profile_picture_url_check CHECK (length(profile_picture_url) <= 255),
    CONSTRAINT users_linkedin_profile_url_check CHECK (length(linkedin_profile_url) <= 255),
    CONSTRAINT users_github_profile_url_check CHECK (length(github_profile_url) <= 255),
    CONSTRAINT users_role_check CHECK (role IN ('ANONYMOUS', 'AUTHENTICATED', 'MANAGER', 'ADMIN')),
    CONSTRAINT users_bools_check CHECK (is_professional IN (0, 1) AND email_verified IN (0, 1) AND is_locked IN (0, 1)),
    CONSTRAINT users_counters_check CHECK (failed_login_attempts >= 0 AND logins_in_flight >= 0 AND token_version >= 0),
    CONSTRAINT users_times_check CHECK (
        length(created_at) = 27 AND length(updated_at) = 27
        AND coalesce(length(professional_status_updated_at), 27) = 27
        AND coalesce(length(verification_expires_at), 27) = 27
        AND coalesce(length(login_lease_until), 27) = 27
        AND coalesce(length(locked_at), 27) = 27
        AND coalesce(length(last_login_at), 27) = 27
    )
) STRICT;

CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_nickname_lower_key ON users (lower(nickname));
-- Listing order: created_at, then id.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);
CREATE INDEX users_admin_id_idx ON users (id) WHERE role = 'ADMIN';

-- +goose Down
DROP TABLE users;
