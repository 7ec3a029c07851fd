//! PostgreSQL: apps, API keys, permissions and roles. An API key's lookup and a
//! realm's permission listing are batched with concurrent callers'
//! (`super::batches::api_keys`, `super::batches::permissions`); the rest is cold.

use portcullis_core::model::{Client, Grant, TokenRecord};
use portcullis_core::org::{ApiKey, App, Permission, StoredApiKey};
use portcullis_core::store::{OrgStore, StoreResult};

use super::PgStore;

mod cold {
    crate::cold_orgs::org_paths!(sqlx::Postgres, super::super::errors::map_err, super::super::cold);
}

#[async_trait::async_trait]
impl OrgStore for PgStore {
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

    /// Batched with concurrent callers' reads (`batches::api_keys`): every request
    /// authenticated by an API key reads its key.
    async fn get_api_key(&self, id: &[u8; 16]) -> StoreResult<Option<StoredApiKey>> {
        self.api_key_reader.read(*id).await
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

    /// Batched with concurrent callers' listings (`batches::permissions`): every
    /// request that answers a `perm_bits` claim (an API key's introspection, a customer's
    /// token) lists its realm's permissions.
    async fn list_permissions(&self, realm: &str) -> StoreResult<Vec<Permission>> {
        self.permission_reader.read(realm.to_owned()).await
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
