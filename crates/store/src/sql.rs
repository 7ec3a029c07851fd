//! SQL text shared by both backends. It sticks to what SQLite and PostgreSQL both
//! accept: `$n` placeholders (SQLite binds `$n` to the n-th argument), `ON CONFLICT`,
//! `CASE` rather than `MIN`/`LEAST`.

macro_rules! realm_columns {
    () => {
        "name, access_ttl, refresh_ttl, token_format, signing_alg, created_at, updated_at"
    };
}

macro_rules! key_columns {
    () => {
        "kid, realm, alg, private_pem, created_at, retired_at, verify_until"
    };
}

macro_rules! client_columns {
    () => {
        "realm, client_id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes, \
         default_scopes, access_ttl, refresh_ttl, resource_server, disabled, created_at, updated_at"
    };
}

macro_rules! token_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "realm, ",
            $p,
            "kind, ",
            $p,
            "verifier_hash, ",
            $p,
            "client_id, ",
            $p,
            "subject, ",
            $p,
            "username, ",
            $p,
            "scope, ",
            $p,
            "grant_id, ",
            $p,
            "permissions, ",
            $p,
            "test, ",
            $p,
            "issued_at, ",
            $p,
            "expires_at, ",
            $p,
            "revoked_at"
        )
    };
}

pub const PING: &str = "SELECT 1";

pub const PEPPER_INSERT: &str =
    "INSERT INTO settings (name, value) VALUES ('pepper', $1) ON CONFLICT (name) DO NOTHING";
pub const PEPPER_SELECT: &str = "SELECT value FROM settings WHERE name = 'pepper'";

pub const REALM_INSERT: &str =
    concat!("INSERT INTO realms (", realm_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");
pub const REALM_GET: &str = concat!("SELECT ", realm_columns!(), " FROM realms WHERE name = $1");
pub const REALM_LIST: &str = concat!("SELECT ", realm_columns!(), " FROM realms ORDER BY name");
/// Same placeholders as `REALM_INSERT`, so one binding sequence serves both;
/// `$6` (`created_at`) is bound but unused.
pub const REALM_UPDATE: &str = "UPDATE realms SET access_ttl = $2, refresh_ttl = $3, \
     token_format = $4, signing_alg = $5, updated_at = $7 WHERE name = $1";
pub const REALM_DELETE: &str = "DELETE FROM realms WHERE name = $1";
/// A no-op write whose only effect is to take the realm's row lock on PostgreSQL, so
/// that two concurrent key rotations of one realm run one after the other (SQLite
/// serializes every write transaction anyway).
pub const REALM_LOCK: &str = "UPDATE realms SET updated_at = updated_at WHERE name = $1";

pub const KEY_INSERT: &str =
    concat!("INSERT INTO signing_keys (", key_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");
pub const KEY_LIST_VERIFYING: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM signing_keys WHERE realm = $1 AND (verify_until IS NULL OR verify_until > $2) \
     ORDER BY created_at DESC, kid DESC"
);
/// Never moves an earlier `verify_until` later: a key retired before must not verify
/// for longer because of a second rotation.
pub const KEY_RETIRE_ALL: &str = "UPDATE signing_keys SET retired_at = $2, \
     verify_until = CASE WHEN verify_until IS NOT NULL AND verify_until < $3 \
     THEN verify_until ELSE $3 END \
     WHERE realm = $1 AND retired_at IS NULL";

pub const CLIENT_INSERT: &str = concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
pub const CLIENT_GET: &str = concat!("SELECT ", client_columns!(), " FROM clients WHERE realm = $1 AND client_id = $2");
/// An id match wins over a name match: another client may be named like this one's id.
pub const CLIENT_FIND: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE realm = $1 AND (client_id = $2 OR name = $2) \
     ORDER BY CASE WHEN client_id = $2 THEN 0 ELSE 1 END LIMIT 1"
);
pub const CLIENT_LIST: &str =
    concat!("SELECT ", client_columns!(), " FROM clients WHERE realm = $1 ORDER BY name, client_id");
/// Same placeholders as `CLIENT_INSERT`, so one binding sequence serves both;
/// `$14` (`created_at`) is bound but unused.
pub const CLIENT_UPDATE: &str = "UPDATE clients SET name = $3, secret_hash = $4, \
     auth_method = $5, grant_types = $6, redirect_uris = $7, scopes = $8, \
     default_scopes = $9, access_ttl = $10, refresh_ttl = $11, resource_server = $12, \
     disabled = $13, updated_at = $15 WHERE realm = $1 AND client_id = $2";
pub const CLIENT_DELETE: &str = "DELETE FROM clients WHERE realm = $1 AND client_id = $2";
pub const CLIENT_SET_SECRET: &str = "UPDATE clients SET secret_hash = $3 WHERE realm = $1 AND client_id = $2";
pub const CLIENT_REVOKE_TOKENS: &str = "UPDATE tokens SET revoked_at = $3 \
     WHERE realm = $1 AND client_id = $2 AND revoked_at IS NULL";

pub const TOKEN_INSERT: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
pub const TOKEN_GET: &str = concat!(
    "SELECT ",
    token_columns!("t."),
    ", c.disabled AS client_disabled FROM tokens t \
     JOIN clients c ON c.realm = t.realm AND c.client_id = t.client_id WHERE t.id = $1"
);
pub const TOKEN_REVOKE: &str = "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
