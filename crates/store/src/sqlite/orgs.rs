//! SQLite: apps, API keys, permissions and roles. An API key's lookup and a realm's
//! permission listing (both on every request an API key authenticates) run on the
//! rusqlite readers like a token's; the rest is cold.

use portcullis_core::model::{Client, Grant, TokenRecord};
use portcullis_core::org::{ApiKey, App, Permission, StoredApiKey};
use portcullis_core::store::{OrgStore, StoreResult};
use rusqlite::Row;

use super::SqliteStore;
use super::errors::map_rusqlite;
use super::statements::{Columns, query_optional};
use crate::orgs_rows::{ApiKeyRow, PermissionRow, StoredApiKeyRow};
use crate::orgs_sql;

mod cold {
    crate::cold_orgs::org_paths!(sqlx::Sqlite, super::super::errors::map_err, super::super::cold);
}

fn stored_api_key_row(r: &Row<'_>) -> rusqlite::Result<StoredApiKeyRow> {
    let mut c = Columns::new(r);
    Ok(StoredApiKeyRow {
        key: ApiKeyRow {
            id: c.get("id")?,
            realm: c.get("realm")?,
            app_id: c.get("app_id")?,
            name: c.get("name")?,
            verifier_hash: c.get("verifier_hash")?,
            scope: c.get("scope")?,
            permissions: c.get("permissions")?,
            test: c.get("test")?,
            created_at: c.get("created_at")?,
            last_used_at: c.get("last_used_at")?,
            revoked_at: c.get("revoked_at")?,
        },
        app_disabled: c.get("app_disabled")?,
    })
}

#[async_trait::async_trait]
impl OrgStore for SqliteStore {
    async fn create_app(&self, app: &App, client: &Client) -> StoreResult<()> {
        cold::create_app(&self.pools, app, client).await
    }

    async fn find_app(&self, realm: &str, id_or_name: &str) -> StoreResult<Option<App>> {
        cold::find_app(&self.pools, realm, id_or_name).await
    }

    async fn list_apps(&self, realm: &str) -> StoreResult<Vec<App>> {
        cold::list_apps(&self.pools, realm).await
    }

    async fn reset_app(&self, realm: &str, app_id: &str, now: i64) -> StoreResult<u64> {
        cold::reset_app(&self.pools, realm, app_id, now).await
    }

    async fn delete_app(&self, realm: &str, app_id: &str) -> StoreResult<()> {
        cold::delete_app(&self.pools, realm, app_id).await
    }

    async fn update_app(&self, realm: &str, app_id: &str, name: &str, now: i64) -> StoreResult<()> {
        cold::update_app(&self.pools, realm, app_id, name, now).await
    }

    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        cold::create_api_key(&self.pools, key).await
    }

    async fn get_api_key(&self, id: &[u8; 16]) -> StoreResult<Option<StoredApiKey>> {
        self.readers.read(|conn| {
            query_optional(conn, orgs_sql::API_KEY_GET, [&&id[..]], stored_api_key_row)?
                .map(StoredApiKey::try_from)
                .transpose()
        })
    }

    async fn list_api_keys(&self, realm: &str, app_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        cold::list_api_keys(&self.pools, realm, app_id).await
    }

    async fn revoke_api_key(&self, realm: &str, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        cold::revoke_api_key(&self.pools, realm, id, now).await
    }

    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<bool> {
        cold::update_api_key(&self.pools, key).await
    }

    async fn touch_api_keys(&self, used: &[([u8; 16], i64)]) -> StoreResult<()> {
        cold::touch_api_keys(&self.pools, used).await
    }

    async fn create_customer_grant(
        &self,
        grant: &Grant,
        api_key: &[u8; 16],
        tokens: &[TokenRecord],
    ) -> StoreResult<()> {
        cold::create_customer_grant(&self.pools, grant, api_key, tokens).await
    }

    async fn create_permission(&self, realm: &str, name: &str, now: i64) -> StoreResult<Permission> {
        cold::create_permission(&self.pools, realm, name, now).await
    }

    async fn list_permissions(&self, realm: &str) -> StoreResult<Vec<Permission>> {
        self.readers.read(|conn| {
            let mut statement = conn.prepare_cached(orgs_sql::PERMISSION_LIST).map_err(map_rusqlite)?;
            let rows = statement
                .query_map([realm], |r| {
                    let mut c = Columns::new(r);
                    Ok(PermissionRow {
                        realm: c.get("realm")?,
                        name: c.get("name")?,
                        bit: c.get("bit")?,
                        created_at: c.get("created_at")?,
                    })
                })
                .map_err(map_rusqlite)?;
            rows.map(|row| row.map_err(map_rusqlite).and_then(Permission::try_from)).collect()
        })
    }

    async fn delete_permission(&self, realm: &str, name: &str) -> StoreResult<()> {
        cold::delete_permission(&self.pools, realm, name).await
    }

    async fn set_role_permissions(&self, realm: &str, role: &str, permissions: &[String]) -> StoreResult<()> {
        cold::set_role_permissions(&self.pools, realm, role, permissions).await
    }

    async fn list_role_permissions(&self, realm: &str) -> StoreResult<Vec<(String, Vec<String>)>> {
        cold::list_role_permissions(&self.pools, realm).await
    }

    async fn permissions_of_roles(&self, realm: &str, roles: &[String]) -> StoreResult<Vec<String>> {
        cold::permissions_of_roles(&self.pools, realm, roles).await
    }
}
