//! Rows of the organization model and their conversion to `portcullis_core::org`.

use portcullis_core::org::{ApiKey, App, Permission, StoredApiKey};
use portcullis_core::store::{StoreError, StoreResult};

use crate::rows::{SPACE, bytes, split};

#[derive(sqlx::FromRow)]
pub(crate) struct AppRow {
    pub(crate) realm: String,
    pub(crate) app_id: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
    pub(crate) reset_at: Option<i64>,
}

impl From<AppRow> for App {
    fn from(r: AppRow) -> Self {
        App { realm: r.realm, app_id: r.app_id, name: r.name, created_at: r.created_at, reset_at: r.reset_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub(crate) id: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) app_id: String,
    pub(crate) name: String,
    pub(crate) verifier_hash: Vec<u8>,
    pub(crate) scope: String,
    pub(crate) permissions: String,
    pub(crate) test: bool,
    pub(crate) created_at: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(r: ApiKeyRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: bytes(r.id, "api_keys.id")?,
            verifier_hash: bytes(r.verifier_hash, "api_keys.verifier_hash")?,
            permissions: split(&r.permissions, SPACE),
            realm: r.realm,
            app_id: r.app_id,
            name: r.name,
            scope: r.scope,
            test: r.test,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StoredApiKeyRow {
    #[sqlx(flatten)]
    pub(crate) key: ApiKeyRow,
    pub(crate) app_disabled: bool,
}

impl TryFrom<StoredApiKeyRow> for StoredApiKey {
    type Error = StoreError;

    fn try_from(r: StoredApiKeyRow) -> StoreResult<Self> {
        Ok(StoredApiKey { key: r.key.try_into()?, app_disabled: r.app_disabled })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PermissionRow {
    pub(crate) realm: String,
    pub(crate) name: String,
    pub(crate) bit: i64,
    pub(crate) created_at: i64,
}

impl TryFrom<PermissionRow> for Permission {
    type Error = StoreError;

    fn try_from(r: PermissionRow) -> StoreResult<Self> {
        let bit = u32::try_from(r.bit).map_err(|_| StoreError::Backend(format!("stored permissions.bit {}", r.bit)))?;
        Ok(Permission { realm: r.realm, name: r.name, bit, created_at: r.created_at })
    }
}

/// `(role, permission)` rows, ordered by role, grouped.
pub(crate) fn group_roles(rows: Vec<(String, String)>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (role, permission) in rows {
        match out.last_mut() {
            Some((last, perms)) if *last == role => perms.push(permission),
            _ => out.push((role, vec![permission])),
        }
    }
    out
}
