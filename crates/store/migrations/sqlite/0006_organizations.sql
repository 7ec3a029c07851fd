-- Organizations: apps (an app is also a client whose secrets are its API keys), API
-- keys, named permissions bound to stable bits, roles mapped to permissions, and the
-- link from a customer's grant to the key it signed in with. Same conventions as 0001.

ALTER TABLE realms ADD COLUMN customer_ttl INTEGER NOT NULL DEFAULT 3600;

-- The app's name lives in its clients row (unique per realm there); deleting the client
-- deletes the app, its keys, and every grant and token issued to it.
CREATE TABLE apps (
    realm      TEXT    NOT NULL,
    app_id     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    reset_at   INTEGER,
    PRIMARY KEY (realm, app_id),
    FOREIGN KEY (realm, app_id) REFERENCES clients (realm, client_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Keyed by the key's selector; only the SHA-256 of its verifier is kept.
CREATE TABLE api_keys (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm         TEXT    NOT NULL,
    app_id        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    verifier_hash BLOB    NOT NULL CHECK (length(verifier_hash) = 32),
    scope         TEXT    NOT NULL,
    permissions   TEXT    NOT NULL,
    test          INTEGER NOT NULL CHECK (test IN (0, 1)),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    FOREIGN KEY (realm, app_id) REFERENCES apps (realm, app_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX api_keys_app ON api_keys (realm, app_id);

-- A bit is unique per realm, so a token's bit field means one set of names; a name's
-- bit never changes while the name exists.
CREATE TABLE permissions (
    realm      TEXT    NOT NULL REFERENCES realms (name) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    bit        INTEGER NOT NULL CHECK (bit >= 0),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (realm, name),
    UNIQUE (realm, bit)
) STRICT, WITHOUT ROWID;

CREATE TABLE role_permissions (
    realm      TEXT NOT NULL,
    role       TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (realm, role, permission),
    FOREIGN KEY (realm, permission) REFERENCES permissions (realm, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX role_permissions_permission ON role_permissions (realm, permission);

-- Which API key a customer signed in with: revoking the key revokes these grants.
-- Goes with its grant (purge, user deletion) and with its key.
CREATE TABLE customer_grants (
    grant_id   BLOB NOT NULL PRIMARY KEY REFERENCES grants (id) ON DELETE CASCADE,
    api_key_id BLOB NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_grants_key ON customer_grants (api_key_id);
