//! SQLite: settings, realms, signing keys, readiness and the purge.

use portcullis_core::model::{Realm, SigningKeyRecord};
use portcullis_core::store::{AdminStore, PurgeCutoffs, PurgeReport, QueueLoad, StoreLoad, StoreResult};

use super::SqliteStore;
use super::cold;
use super::errors::map_err;
use super::signing_keys;
use crate::load::{pool_load, sizes};
use crate::sql;

#[async_trait::async_trait]
impl AdminStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.check_writer()?;
        cold::ping(&self.pools).await
    }

    fn load(&self) -> StoreLoad {
        let (depth, capacity) = self.writer.depth();
        StoreLoad {
            pools: vec![pool_load("read", &self.pools.read), pool_load("write", &self.pools.write)],
            queues: vec![QueueLoad { queue: "sqlite_writer", depth, capacity }],
        }
    }

    async fn table_sizes(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        let counted: Vec<(String, i64)> =
            sqlx::query_as(sql::SQLITE_TABLE_SIZES).fetch_all(&self.pools.read).await.map_err(map_err)?;
        Ok(sizes(&counted))
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
        self.readers.read(|conn| signing_keys::verifying(conn, &self.pools.at_rest, realm, now))
    }

    async fn rotate_signing_key(&self, new_key: &SigningKeyRecord, now: i64, verify_until: i64) -> StoreResult<()> {
        cold::rotate_signing_key(&self.pools, new_key, now, verify_until).await
    }

    async fn purge_expired(&self, cutoffs: PurgeCutoffs, batch_size: u32) -> StoreResult<PurgeReport> {
        cold::purge_expired(&self.pools, crate::sql::PURGES_SQLITE, cutoffs, batch_size).await
    }
}
