//! PostgreSQL: OAuth clients.

use portcullis_core::model::Client;
use portcullis_core::store::{ClientStore, StoreResult};

use super::PgStore;
use super::cold::{self};

#[async_trait::async_trait]
impl ClientStore for PgStore {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        cold::create_client(&self.pools, client).await
    }

    async fn get_client(&self, realm: &str, client_id: &str) -> StoreResult<Option<Client>> {
        self.client_reader.read((realm.to_owned(), client_id.to_owned())).await
    }

    async fn find_client(&self, realm: &str, id_or_name: &str) -> StoreResult<Option<Client>> {
        cold::find_client(&self.pools, realm, id_or_name).await
    }

    async fn list_clients(&self, realm: &str) -> StoreResult<Vec<Client>> {
        cold::list_clients(&self.pools, realm).await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        cold::update_client(&self.pools, client).await
    }

    async fn delete_client(&self, realm: &str, client_id: &str) -> StoreResult<()> {
        cold::delete_client(&self.pools, realm, client_id).await
    }

    async fn rotate_client_secret(
        &self,
        realm: &str,
        client_id: &str,
        secret_hash: &[u8],
        revoke_tokens_at: Option<i64>,
    ) -> StoreResult<()> {
        cold::rotate_client_secret(&self.pools, realm, client_id, secret_hash, revoke_tokens_at).await
    }
}
