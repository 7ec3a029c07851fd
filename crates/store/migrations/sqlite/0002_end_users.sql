-- End users, grants (token families), authorization codes, browser sessions, pending
-- authorization requests, consents and sign-in throttling. Same conventions as 0001:
-- STRICT, booleans INTEGER 0/1, times Unix seconds.
--
-- tokens.grant_id has no foreign key to grants: SQLite cannot add one with ALTER
-- TABLE, and tokens written before this migration may name a grant that was never
-- stored. The store deletes a grant's tokens itself, in the transaction that deletes
-- the grant (see `delete_user`); grants and tokens also both cascade from their client.

-- Defaults match `Realm::new`, so realms created before this migration behave as new
-- ones do.
ALTER TABLE realms ADD COLUMN refresh_policy TEXT NOT NULL DEFAULT 'rotate';
ALTER TABLE realms ADD COLUMN refresh_grace INTEGER NOT NULL DEFAULT 0;
ALTER TABLE realms ADD COLUMN allow_implicit INTEGER NOT NULL DEFAULT 0 CHECK (allow_implicit IN (0, 1));
ALTER TABLE realms ADD COLUMN require_pkce INTEGER NOT NULL DEFAULT 0 CHECK (require_pkce IN (0, 1));
ALTER TABLE realms ADD COLUMN allow_plain_pkce INTEGER NOT NULL DEFAULT 0 CHECK (allow_plain_pkce IN (0, 1));
ALTER TABLE realms ADD COLUMN code_ttl INTEGER NOT NULL DEFAULT 60;

ALTER TABLE tokens ADD COLUMN used_at INTEGER;

-- username_key is the username lowercased by the store (in Rust, not with SQL lower(),
-- which differs between backends beyond ASCII): it makes usernames unique and found
-- case-insensitively.
CREATE TABLE users (
    realm         TEXT    NOT NULL REFERENCES realms (name) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    password_hash TEXT,
    roles         TEXT    NOT NULL,
    teams         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (realm, id),
    UNIQUE (realm, username_key)
) STRICT;

-- A grant's revoked_at revokes every token that names it (read through a join by
-- get_token), so revoking a family is one row.
CREATE TABLE grants (
    id          BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm       TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    username    TEXT,
    scope       TEXT    NOT NULL,
    teams       TEXT    NOT NULL,
    permissions TEXT    NOT NULL,
    test        INTEGER NOT NULL CHECK (test IN (0, 1)),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    FOREIGN KEY (realm, client_id) REFERENCES clients (realm, client_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX grants_subject ON grants (realm, subject);
-- Also serves the ON DELETE CASCADE from clients.
CREATE INDEX grants_client ON grants (realm, client_id);

CREATE TABLE authorization_codes (
    id                    BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    verifier_hash         BLOB    NOT NULL CHECK (length(verifier_hash) = 32),
    realm                 TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    grant_id              BLOB    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    INTEGER NOT NULL CHECK (redirect_uri_given IN (0, 1)),
    code_challenge        TEXT,
    code_challenge_method TEXT,
    issued_at             INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
) STRICT, WITHOUT ROWID;

-- Serves the ON DELETE CASCADE from grants.
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);

-- Keyed by the SHA-256 of the cookie's secret.
CREATE TABLE sessions (
    id_hash          BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) = 32),
    realm            TEXT    NOT NULL REFERENCES realms (name) ON DELETE CASCADE,
    user_id          TEXT,
    authenticated_at INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    FOREIGN KEY (realm, user_id) REFERENCES users (realm, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (realm, user_id) WHERE user_id IS NOT NULL;

-- Cascades from the client: a client deleted and created again under the same id
-- inherits no pending request and no consent.
CREATE TABLE authorization_requests (
    id                    BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm                 TEXT    NOT NULL,
    session_hash          BLOB    NOT NULL CHECK (length(session_hash) = 32),
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    INTEGER NOT NULL CHECK (redirect_uri_given IN (0, 1)),
    response_type         TEXT    NOT NULL,
    response_mode         TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    state                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    prompt                TEXT,
    csrf_hash             BLOB    NOT NULL CHECK (length(csrf_hash) = 32),
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    FOREIGN KEY (realm, client_id) REFERENCES clients (realm, client_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX authorization_requests_client ON authorization_requests (realm, client_id);

CREATE TABLE consents (
    realm      TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (realm, user_id, client_id),
    FOREIGN KEY (realm, user_id) REFERENCES users (realm, id) ON DELETE CASCADE,
    FOREIGN KEY (realm, client_id) REFERENCES clients (realm, client_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX consents_client ON consents (realm, client_id);

-- Sign-in attempts per throttling key, shared by every instance.
CREATE TABLE login_attempts (
    key          TEXT    NOT NULL PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
