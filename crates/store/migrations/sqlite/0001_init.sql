-- STRICT so that SQLite rejects a value of the wrong type instead of storing it as is.
-- Booleans are INTEGER 0/1 and times are Unix seconds.

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE realms (
    name         TEXT    NOT NULL PRIMARY KEY,
    access_ttl   INTEGER NOT NULL,
    refresh_ttl  INTEGER,
    token_format TEXT    NOT NULL,
    signing_alg  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY,
    realm        TEXT    NOT NULL REFERENCES realms (name) ON DELETE CASCADE,
    alg          TEXT    NOT NULL,
    private_pem  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER,
    verify_until INTEGER
) STRICT;

CREATE INDEX signing_keys_realm ON signing_keys (realm);

CREATE TABLE clients (
    realm           TEXT    NOT NULL REFERENCES realms (name) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    secret_hash     BLOB,
    auth_method     TEXT    NOT NULL,
    grant_types     TEXT    NOT NULL,
    redirect_uris   TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    default_scopes  TEXT    NOT NULL,
    access_ttl      INTEGER,
    refresh_ttl     INTEGER,
    resource_server INTEGER NOT NULL CHECK (resource_server IN (0, 1)),
    disabled        INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (realm, client_id),
    UNIQUE (realm, name)
) STRICT;

-- WITHOUT ROWID: lookups are by id only, so the table is its primary key b-tree.
CREATE TABLE tokens (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    verifier_hash BLOB    CHECK (verifier_hash IS NULL OR length(verifier_hash) = 32),
    client_id     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    username      TEXT,
    scope         TEXT    NOT NULL,
    grant_id      BLOB    CHECK (grant_id IS NULL OR length(grant_id) = 16),
    permissions   TEXT    NOT NULL,
    test          INTEGER NOT NULL CHECK (test IN (0, 1)),
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    FOREIGN KEY (realm, client_id) REFERENCES clients (realm, client_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Also serves the ON DELETE CASCADE from clients, which would otherwise scan the table.
CREATE INDEX tokens_client ON tokens (realm, client_id);
-- Partial: JWTs and client-credentials tokens have no grant.
CREATE INDEX tokens_grant ON tokens (grant_id) WHERE grant_id IS NOT NULL;
