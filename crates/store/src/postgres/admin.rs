//! PostgreSQL: settings, realms, signing keys, readiness and the purge.

use portcullis_core::model::{Realm, SigningKeyRecord};
use portcullis_core::store::{AdminStore, PurgeCutoffs, PurgeReport, StoreResult};

use super::PgStore;
use super::cold::{self};

#[async_trait::async_trait]
impl AdminStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.token_writer.check_running()?;
        self.token_revoker.check_running()?;
        self.token_reader.check_running()?;
        self.refresh_rotator.check_running()?;
        self.code_redeemer.check_running()?;
        self.grant_reader.check_running()?;
        self.code_reader.check_running()?;
        self.client_reader.check_running()?;
        self.user_reader.check_running()?;
        cold::ping(&self.pools).await
    }

    async fn pepper(&self, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        cold::pepper(&self.pools, candidate).await
    }

    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        cold::setting(&self.pools, name).await
    }

    async fn put_setting(&self, name: &str, value: &[u8], keep_existing: bool) -> StoreResult<Vec<u8>> {
        cold::put_setting(&self.pools, name, value, keep_existing).await
    }

    async fn create_realm(&self, realm: &Realm, key: &SigningKeyRecord) -> StoreResult<()> {
        cold::create_realm(&self.pools, realm, key).await
    }

    async fn get_realm(&self, name: &str) -> StoreResult<Option<Realm>> {
        cold::get_realm(&self.pools, name).await
    }

    async fn list_realms(&self) -> StoreResult<Vec<Realm>> {
        cold::list_realms(&self.pools).await
    }

    async fn update_realm(&self, realm: &Realm) -> StoreResult<()> {
        cold::update_realm(&self.pools, realm).await
    }

    async fn delete_realm(&self, name: &str) -> StoreResult<()> {
        cold::delete_realm(&self.pools, name).await
    }

    async fn signing_keys(&self, realm: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>> {
        cold::signing_keys(&self.pools, realm, now).await
    }

    async fn rotate_signing_key(&self, new_key: &SigningKeyRecord, now: i64, verify_until: i64) -> StoreResult<()> {
        cold::rotate_signing_key(&self.pools, new_key, now, verify_until).await
    }

    async fn purge_expired(&self, cutoffs: PurgeCutoffs, batch_size: u32) -> StoreResult<PurgeReport> {
        cold::purge_expired(&self.pools, crate::sql::PURGES_PG, cutoffs, batch_size).await
    }
}
