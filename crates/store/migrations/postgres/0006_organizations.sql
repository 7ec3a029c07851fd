-- Organizations: apps (an app is also a client whose secrets are its API keys), API
-- keys, named permissions bound to stable bits, roles mapped to permissions, and the
-- link from a customer's grant to the key it signed in with. Constraint names spelled
-- out as in 0001 (see `UNIQUE_KEYS` in src/errors.rs).

ALTER TABLE realms ADD COLUMN customer_ttl BIGINT NOT NULL DEFAULT 3600;

-- The app's name lives in its clients row (unique per realm there); deleting the client
-- deletes the app, its keys, and every grant and token issued to it.
CREATE TABLE apps (
    realm      TEXT   NOT NULL,
    app_id     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    reset_at   BIGINT,
    CONSTRAINT apps_pkey PRIMARY KEY (realm, app_id),
    CONSTRAINT apps_client_fkey FOREIGN KEY (realm, app_id)
        REFERENCES clients (realm, client_id) ON DELETE CASCADE
);

-- Keyed by the key's selector; only the SHA-256 of its verifier is kept.
CREATE TABLE api_keys (
    id            BYTEA   NOT NULL CHECK (octet_length(id) = 16),
    realm         TEXT    NOT NULL,
    app_id        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    verifier_hash BYTEA   NOT NULL CHECK (octet_length(verifier_hash) = 32),
    scope         TEXT    NOT NULL,
    permissions   TEXT    NOT NULL,
    test          BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_app_fkey FOREIGN KEY (realm, app_id)
        REFERENCES apps (realm, app_id) ON DELETE CASCADE
);

CREATE INDEX api_keys_app ON api_keys (realm, app_id);

-- A bit is unique per realm, so a token's bit field means one set of names; a name's
-- bit never changes while the name exists.
CREATE TABLE permissions (
    realm      TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    bit        BIGINT NOT NULL CHECK (bit >= 0),
    created_at BIGINT NOT NULL,
    CONSTRAINT permissions_pkey PRIMARY KEY (realm, name),
    CONSTRAINT permissions_bit_key UNIQUE (realm, bit),
    CONSTRAINT permissions_realm_fkey FOREIGN KEY (realm)
        REFERENCES realms (name) ON DELETE CASCADE
);

CREATE TABLE role_permissions (
    realm      TEXT NOT NULL,
    role       TEXT NOT NULL,
    permission TEXT NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (realm, role, permission),
    CONSTRAINT role_permissions_permission_fkey FOREIGN KEY (realm, permission)
        REFERENCES permissions (realm, name) ON DELETE CASCADE
);

CREATE INDEX role_permissions_permission ON role_permissions (realm, permission);

-- Which API key a customer signed in with: revoking the key revokes these grants.
-- Goes with its grant (purge, user deletion) and with its key.
CREATE TABLE customer_grants (
    grant_id   BYTEA NOT NULL,
    api_key_id BYTEA NOT NULL,
    CONSTRAINT customer_grants_pkey PRIMARY KEY (grant_id),
    CONSTRAINT customer_grants_grant_fkey FOREIGN KEY (grant_id)
        REFERENCES grants (id) ON DELETE CASCADE,
    CONSTRAINT customer_grants_key_fkey FOREIGN KEY (api_key_id)
        REFERENCES api_keys (id) ON DELETE CASCADE
);

CREATE INDEX customer_grants_key ON customer_grants (api_key_id);
