-- +goose Up
-- Limits mirror domain/validate.go; the domain checks first, these are the backstop.
-- Index and constraint names are matched by sqlstore to tell duplicates apart.
CREATE TABLE users (
    id                             uuid        NOT NULL,
    email                          text        NOT NULL,
    nickname                       text        NOT NULL,
    password_hash                  text        NOT NULL,
    first_name                     text,
    last_name                      text,
    bio                            text,
    preferred_language             text,
    profile_picture_url            text,
    linkedin_profile_url           text,
    github_profile_url             text,
    role                           text        NOT NULL,
    is_professional                boolean     NOT NULL DEFAULT false,
    professional_status_updated_at timestamptz,
    email_verified                 boolean     NOT NULL DEFAULT false,
    verification_token_hash        text,
    verification_expires_at        timestamptz,
    failed_login_attempts          integer     NOT NULL DEFAULT 0,
    logins_in_flight               integer     NOT NULL DEFAULT 0,
    login_lease_until              timestamptz,
    is_locked                      boolean     NOT NULL DEFAULT false,
    locked_at                      timestamptz,
    last_login_at                  timestamptz,
    created_at                     timestamptz NOT NULL,
    updated_at                     timestamptz NOT NULL,
    token_version                  bigint      NOT NULL DEFAULT 0,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_check CHECK (char_length(email) BETWEEN 3 AND 255),
    CONSTRAINT users_nickname_check CHECK (char_length(nickname) BETWEEN 3 AND 50 AND nickname ~ '^[A-Za-z0-9_-]+$'),
    CONSTRAINT users_first_name_check CHECK (char_length(first_name) <= 100),
    CONSTRAINT users_last_name_check CHECK (char_length(last_name) <= 100),
    CONSTRAINT users_bio_check CHECK (char_length(bio) <= 500),
    CONSTRAINT users_preferred_language_check CHECK (char_length(preferred_language) <= 50),
    CONSTRAINT users_profile_picture_url_check CHECK (char_length(profile_picture_url) <= 255),
    CONSTRAINT users_linkedin_profile_url_check CHECK (char_length(linkedin_profile_url) <= 255),
    CONSTRAINT users_github_profile_url_check CHECK (char_length(github_profile_url) <= 255),
    CONSTRAINT users_role_check CHECK (role IN ('ANONYMOUS', 'AUTHENTICATED', 'MANAGER', 'ADMIN')),
    CONSTRAINT users_counters_check CHECK (failed_login_attempts >= 0 AND logins_in_flight >= 0 AND token_version >= 0)
);

CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_nickname_lower_key ON users (lower(nickname));
-- Listing order: created_at, then id.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);
-- Admin counting locks these rows; keep finding them cheap at any size.
CREATE INDEX users_admin_id_idx ON users (id) WHERE role = 'ADMIN';

-- +goose Down
DROP TABLE users;
