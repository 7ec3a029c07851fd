-- Admin tokens: bearer credentials of the admin REST API. Only the SHA-256 of the
-- token's verifier is stored. A token scoped to a realm goes with its realm; one
-- without a realm administers every realm.
CREATE TABLE admin_tokens (
    id            BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(id) = 16),
    realm         TEXT    REFERENCES realms (name) ON DELETE CASCADE,
    verifier_hash BYTEA   NOT NULL CHECK (octet_length(verifier_hash) = 32),
    created_at    BIGINT  NOT NULL,
    revoked_at    BIGINT
);
