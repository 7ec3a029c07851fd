-- End users, grants (token families), authorization codes, browser sessions, pending
-- authorization requests, consents and sign-in throttling. Constraint names are
-- spelled out as in 0001 (see `UNIQUE_KEYS` in src/shared.rs).
--
-- tokens.grant_id has no foreign key to grants, as on SQLite (which cannot add one
-- with ALTER TABLE), and because tokens written before this migration may name a grant
-- that was never stored. The store deletes a grant's tokens itself, in the transaction
-- that deletes the grant (see `delete_user`); grants and tokens also both cascade from
-- their client.

-- Defaults match `Realm::new`, so realms created before this migration behave as new
-- ones do.
ALTER TABLE realms
    ADD COLUMN refresh_policy   TEXT    NOT NULL DEFAULT 'rotate',
    ADD COLUMN refresh_grace    BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN allow_implicit   BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN require_pkce     BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN allow_plain_pkce BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN code_ttl         BIGINT  NOT NULL DEFAULT 60;

ALTER TABLE tokens ADD COLUMN used_at BIGINT;

-- username_key is the username lowercased by the store (in Rust, not with SQL lower(),
-- which differs between backends beyond ASCII): it makes usernames unique and found
-- case-insensitively.
CREATE TABLE users (
    realm         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    password_hash TEXT,
    roles         TEXT    NOT NULL,
    teams         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (realm, id),
    CONSTRAINT users_username_key UNIQUE (realm, username_key),
    CONSTRAINT users_realm_fkey FOREIGN KEY (realm)
        REFERENCES realms (name) ON DELETE CASCADE
);

-- A grant's revoked_at revokes every token that names it (read through a join by
-- get_token), so revoking a family is one row.
CREATE TABLE grants (
    id          BYTEA   NOT NULL CHECK (octet_length(id) = 16),
    realm       TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    username    TEXT,
    scope       TEXT    NOT NULL,
    teams       TEXT    NOT NULL,
    permissions TEXT    NOT NULL,
    test        BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT,
    CONSTRAINT grants_pkey PRIMARY KEY (id),
    CONSTRAINT grants_client_fkey FOREIGN KEY (realm, client_id)
        REFERENCES clients (realm, client_id) ON DELETE CASCADE
);

CREATE INDEX grants_subject ON grants (realm, subject);
-- Also serves the ON DELETE CASCADE from clients.
CREATE INDEX grants_client ON grants (realm, client_id);

CREATE TABLE authorization_codes (
    id                    BYTEA   NOT NULL CHECK (octet_length(id) = 16),
    verifier_hash         BYTEA   NOT NULL CHECK (octet_length(verifier_hash) = 32),
    realm                 TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    grant_id              BYTEA   NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    BOOLEAN NOT NULL,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    issued_at             BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL,
    used_at               BIGINT,
    CONSTRAINT authorization_codes_pkey PRIMARY KEY (id),
    CONSTRAINT authorization_codes_grant_fkey FOREIGN KEY (grant_id)
        REFERENCES grants (id) ON DELETE CASCADE
);

-- Serves the ON DELETE CASCADE from grants.
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);

-- Keyed by the SHA-256 of the cookie's secret.
CREATE TABLE sessions (
    id_hash          BYTEA  NOT NULL CHECK (octet_length(id_hash) = 32),
    realm            TEXT   NOT NULL,
    user_id          TEXT,
    authenticated_at BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id_hash),
    CONSTRAINT sessions_realm_fkey FOREIGN KEY (realm)
        REFERENCES realms (name) ON DELETE CASCADE,
    CONSTRAINT sessions_user_fkey FOREIGN KEY (realm, user_id)
        REFERENCES users (realm, id) ON DELETE CASCADE
);

CREATE INDEX sessions_user ON sessions (realm, user_id) WHERE user_id IS NOT NULL;

-- Cascades from the client: a client deleted and created again under the same id
-- inherits no pending request and no consent.
CREATE TABLE authorization_requests (
    id                    BYTEA   NOT NULL CHECK (octet_length(id) = 16),
    realm                 TEXT    NOT NULL,
    session_hash          BYTEA   NOT NULL CHECK (octet_length(session_hash) = 32),
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    BOOLEAN NOT NULL,
    response_type         TEXT    NOT NULL,
    response_mode         TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    state                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    prompt                TEXT,
    csrf_hash             BYTEA   NOT NULL CHECK (octet_length(csrf_hash) = 32),
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL,
    CONSTRAINT authorization_requests_pkey PRIMARY KEY (id),
    CONSTRAINT authorization_requests_client_fkey FOREIGN KEY (realm, client_id)
        REFERENCES clients (realm, client_id) ON DELETE CASCADE
);

CREATE INDEX authorization_requests_client ON authorization_requests (realm, client_id);

CREATE TABLE consents (
    realm      TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    CONSTRAINT consents_pkey PRIMARY KEY (realm, user_id, client_id),
    CONSTRAINT consents_user_fkey FOREIGN KEY (realm, user_id)
        REFERENCES users (realm, id) ON DELETE CASCADE,
    CONSTRAINT consents_client_fkey FOREIGN KEY (realm, client_id)
        REFERENCES clients (realm, client_id) ON DELETE CASCADE
);

CREATE INDEX consents_client ON consents (realm, client_id);

-- Sign-in attempts per throttling key, shared by every instance.
CREATE TABLE login_attempts (
    key          TEXT   NOT NULL,
    count        BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    CONSTRAINT login_attempts_pkey PRIMARY KEY (key)
);
