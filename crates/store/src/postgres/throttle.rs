//! PostgreSQL: sign-in failure counters.

use portcullis_core::store::{FailureCount, FailureKey, StoreResult, ThrottleStore};

use super::PgStore;
use super::cold::{self};

#[async_trait::async_trait]
impl ThrottleStore for PgStore {
    async fn reserve_sign_in_failure(
        &self,
        limits: &[(FailureKey, u32)],
        now: i64,
        window_secs: i64,
    ) -> StoreResult<Option<Vec<FailureCount>>> {
        cold::reserve_sign_in_failure(&self.pools, limits, now, window_secs).await
    }

    async fn release_sign_in_failure(&self, reserved: &[(FailureKey, i64)]) -> StoreResult<()> {
        cold::release_sign_in_failure(&self.pools, reserved).await
    }

    async fn sign_in_failures(&self, key: &FailureKey, now: i64, window_secs: i64) -> StoreResult<u32> {
        cold::sign_in_failures(&self.pools, key, now, window_secs).await
    }

    async fn clear_sign_in_failures(&self, realm: &str, account: &str) -> StoreResult<u64> {
        cold::clear_sign_in_failures(&self.pools, realm, account).await
    }
}
