//! PostgreSQL: settings, realms, signing keys, readiness and the purge.

use portcullis_core::model::{Realm, SigningKeyRecord};
use portcullis_core::store::{AdminStore, PurgeCutoffs, PurgeReport, StoreLoad, StoreResult};

use super::PgStore;
use super::cold::{self};
use super::errors::map_err;
use crate::load::{SIZED_TABLES, pool_load, sizes};
use crate::sql;

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
        self.key_reader.check_running()?;
        self.api_key_reader.check_running()?;
        self.permission_reader.check_running()?;
        cold::ping(&self.pools).await
    }

    fn load(&self) -> StoreLoad {
        StoreLoad {
            // `read` and `write` are one pool here; `hot` runs the batch statements.
            pools: vec![pool_load("main", &self.pools.read), pool_load("hot", &self.hot)],
            queues: vec![
                self.token_writer.load("token_write"),
                self.token_revoker.load("token_revocation"),
                self.token_reader.load("token_read"),
                self.refresh_rotator.load("refresh_rotation"),
                self.code_redeemer.load("code_redemption"),
                self.grant_reader.load("grant_read"),
                self.code_reader.load("code_read"),
                self.client_reader.load("client_read"),
                self.user_reader.load("user_read"),
                self.key_reader.load("signing_key_read"),
                self.api_key_reader.load("api_key_read"),
                self.permission_reader.load("permission_list"),
            ],
        }
    }

    async fn table_sizes(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        let counted: Vec<(String, i64)> = sqlx::query_as(sql::PG_TABLE_SIZES)
            .bind(&SIZED_TABLES[..])
            .fetch_all(&self.pools.read)
            .await
            .map_err(map_err)?;
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
        // Read on every JWK set request (an anonymous endpoint), so batched like the
        // token reads: one statement for the realms of all who asked meanwhile.
        let sealed = self.key_reader.read((realm.to_owned(), now)).await?;
        sealed.into_iter().map(|key| crate::sealing::open_key(&self.pools.at_rest, key)).collect()
    }

    async fn rotate_signing_key(&self, new_key: &SigningKeyRecord, now: i64, verify_until: i64) -> StoreResult<()> {
        cold::rotate_signing_key(&self.pools, new_key, now, verify_until).await
    }

    async fn purge_expired(&self, cutoffs: PurgeCutoffs, batch_size: u32) -> StoreResult<PurgeReport> {
        cold::purge_expired(&self.pools, crate::sql::PURGES_PG, cutoffs, batch_size).await
    }
}
