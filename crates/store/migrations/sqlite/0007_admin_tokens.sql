-- Admin tokens: bearer credentials of the admin REST API. Only the SHA-256 of the
-- token's verifier is stored. A token scoped to a realm goes with its realm; one
-- without a realm administers every realm.
CREATE TABLE admin_tokens (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    realm         TEXT    REFERENCES realms (name) ON DELETE CASCADE,
    verifier_hash BLOB    NOT NULL CHECK (length(verifier_hash) = 32),
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
