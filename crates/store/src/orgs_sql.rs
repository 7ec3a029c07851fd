//! SQL text of the organization model (apps, API keys, permissions, roles), `$n`
//! placeholders as in [`crate::sql`].

macro_rules! app_select {
    () => {
        "SELECT a.realm, a.app_id, c.name, a.created_at, a.reset_at FROM apps a \
         JOIN clients c ON c.realm = a.realm AND c.client_id = a.app_id "
    };
}

macro_rules! api_key_columns {
    () => {
        "k.id, k.realm, k.app_id, k.name, k.verifier_hash, k.scope, k.permissions, k.test, \
         k.created_at, k.last_used_at, k.revoked_at"
    };
}

pub const APP_INSERT: &str = "INSERT INTO apps (realm, app_id, created_at, reset_at) VALUES ($1, $2, $3, $4)";
/// An id match wins over a name match.
pub const APP_FIND: &str = concat!(
    app_select!(),
    "WHERE a.realm = $1 AND (a.app_id = $2 OR c.name = $2) \
     ORDER BY CASE WHEN a.app_id = $2 THEN 0 ELSE 1 END LIMIT 1"
);
pub const APP_LIST: &str = concat!(app_select!(), "WHERE a.realm = $1 ORDER BY c.name, a.app_id");
pub const APP_EXISTS: &str = "SELECT app_id FROM apps WHERE realm = $1 AND app_id = $2";
pub const APP_RESET: &str = "UPDATE apps SET reset_at = $3 WHERE realm = $1 AND app_id = $2";
pub const APP_REVOKE_KEYS: &str =
    "UPDATE api_keys SET revoked_at = $3 WHERE realm = $1 AND app_id = $2 AND revoked_at IS NULL";
/// Every grant of the app's client came through one of its keys.
pub const APP_REVOKE_GRANTS: &str =
    "UPDATE grants SET revoked_at = $3 WHERE realm = $1 AND client_id = $2 AND revoked_at IS NULL";
/// The name is the client's; the revision moves so a cached copy is read again.
pub const APP_RENAME: &str = "UPDATE clients SET name = $3, updated_at = $4, revision = revision + 1 \
     WHERE realm = $1 AND client_id = $2 AND EXISTS (SELECT 1 FROM apps WHERE realm = $1 AND app_id = $2)";
pub const APP_DELETE: &str = "DELETE FROM clients WHERE realm = $1 AND client_id = $2 \
     AND EXISTS (SELECT 1 FROM apps WHERE realm = $1 AND app_id = $2)";

pub const API_KEY_INSERT: &str = "INSERT INTO api_keys (id, realm, app_id, name, verifier_hash, scope, \
     permissions, test, created_at, last_used_at, revoked_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub const API_KEY_GET: &str = concat!(
    "SELECT ",
    api_key_columns!(),
    ", c.disabled AS app_disabled FROM api_keys k \
     JOIN clients c ON c.realm = k.realm AND c.client_id = k.app_id WHERE k.id = $1"
);
/// PostgreSQL only: `API_KEY_GET` for a batch of callers in one statement, `$1` the
/// key ids; one row per key found, `n` its 1-based place in the array.
pub const API_KEY_GET_MANY_PG: &str = concat!(
    "SELECT q.n, ",
    api_key_columns!(),
    ", c.disabled AS app_disabled FROM UNNEST($1::bytea[]) WITH ORDINALITY AS q (wanted_id, n) \
     JOIN api_keys k ON k.id = q.wanted_id JOIN clients c ON c.realm = k.realm AND c.client_id = k.app_id"
);
pub const API_KEY_LIST: &str = concat!(
    "SELECT ",
    api_key_columns!(),
    " FROM api_keys k WHERE k.realm = $1 AND ($2 IS NULL OR k.app_id = $2) ORDER BY k.id"
);
pub const API_KEY_REVOKE: &str =
    "UPDATE api_keys SET revoked_at = $3 WHERE realm = $1 AND id = $2 AND revoked_at IS NULL";
pub const API_KEY_UPDATE: &str = "UPDATE api_keys SET name = $3, scope = $4, permissions = $5 \
     WHERE realm = $1 AND id = $2 AND revoked_at IS NULL";
pub const API_KEY_REVOKE_GRANTS: &str = "UPDATE grants SET revoked_at = $2 WHERE revoked_at IS NULL \
     AND id IN (SELECT grant_id FROM customer_grants WHERE api_key_id = $1)";
pub const API_KEY_TOUCH: &str =
    "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";
pub const CUSTOMER_GRANT_LINK: &str = "INSERT INTO customer_grants (grant_id, api_key_id) VALUES ($1, $2)";

pub const PERMISSION_BITS: &str = "SELECT bit FROM permissions WHERE realm = $1 ORDER BY bit";
pub const PERMISSION_INSERT: &str = "INSERT INTO permissions (realm, name, bit, created_at) VALUES ($1, $2, $3, $4)";
pub const PERMISSION_LIST: &str = "SELECT realm, name, bit, created_at FROM permissions WHERE realm = $1 ORDER BY bit";
/// PostgreSQL only: `PERMISSION_LIST` of every realm in `$1` (each named once), in one
/// statement: read through the index on `(realm, bit)`, so already in that order.
pub const PERMISSION_LIST_MANY_PG: &str =
    "SELECT realm, name, bit, created_at FROM permissions WHERE realm = ANY ($1::text[]) ORDER BY realm, bit";
pub const PERMISSION_EXISTS: &str = "SELECT name FROM permissions WHERE realm = $1 AND name = $2";
pub const PERMISSION_DELETE: &str = "DELETE FROM permissions WHERE realm = $1 AND name = $2";
pub const ROLE_CLEAR: &str = "DELETE FROM role_permissions WHERE realm = $1 AND role = $2";
pub const ROLE_ADD: &str = "INSERT INTO role_permissions (realm, role, permission) VALUES ($1, $2, $3)";
pub const ROLE_LIST: &str = "SELECT role, permission FROM role_permissions WHERE realm = $1 ORDER BY role, permission";
