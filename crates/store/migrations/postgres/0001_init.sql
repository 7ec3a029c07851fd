-- Constraint names are spelled out because the store's error mapping names the clash
-- from them (see `UNIQUE_KEYS` in src/shared.rs). Times are Unix seconds.

CREATE TABLE settings (
    name  TEXT  NOT NULL,
    value BYTEA NOT NULL,
    CONSTRAINT settings_pkey PRIMARY KEY (name)
);

CREATE TABLE realms (
    name         TEXT   NOT NULL,
    access_ttl   BIGINT NOT NULL,
    refresh_ttl  BIGINT,
    token_format TEXT   NOT NULL,
    signing_alg  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT realms_pkey PRIMARY KEY (name)
);

CREATE TABLE signing_keys (
    kid          TEXT   NOT NULL,
    realm        TEXT   NOT NULL,
    alg          TEXT   NOT NULL,
    private_pem  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT,
    verify_until BIGINT,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT signing_keys_realm_fkey FOREIGN KEY (realm)
        REFERENCES realms (name) ON DELETE CASCADE
);

CREATE INDEX signing_keys_realm ON signing_keys (realm);

CREATE TABLE clients (
    realm           TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    secret_hash     BYTEA,
    auth_method     TEXT    NOT NULL,
    grant_types     TEXT    NOT NULL,
    redirect_uris   TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    default_scopes  TEXT    NOT NULL,
    access_ttl      BIGINT,
    refresh_ttl     BIGINT,
    resource_server BOOLEAN NOT NULL,
    disabled        BOOLEAN NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    CONSTRAINT clients_pkey PRIMARY KEY (realm, client_id),
    CONSTRAINT clients_realm_name_key UNIQUE (realm, name),
    CONSTRAINT clients_realm_fkey FOREIGN KEY (realm)
        REFERENCES realms (name) ON DELETE CASCADE
);

CREATE TABLE tokens (
    id            BYTEA   NOT NULL CHECK (octet_length(id) = 16),
    realm         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    verifier_hash BYTEA   CHECK (verifier_hash IS NULL OR octet_length(verifier_hash) = 32),
    client_id     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    username      TEXT,
    scope         TEXT    NOT NULL,
    grant_id      BYTEA   CHECK (grant_id IS NULL OR octet_length(grant_id) = 16),
    permissions   TEXT    NOT NULL,
    test          BOOLEAN NOT NULL,
    issued_at     BIGINT  NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_client_fkey FOREIGN KEY (realm, client_id)
        REFERENCES clients (realm, client_id) ON DELETE CASCADE
);

-- Also serves the ON DELETE CASCADE from clients, which would otherwise scan the table.
CREATE INDEX tokens_client ON tokens (realm, client_id);
-- Partial: JWTs and client-credentials tokens have no grant.
CREATE INDEX tokens_grant ON tokens (grant_id) WHERE grant_id IS NOT NULL;
