//! Admin tokens on both databases: the SQL, the row and the calls, written once.
//! Every call is cold (the admin API reads one row per request), so like `cold.rs` it
//! is a macro over sqlx that each wing expands in its `admin_tokens.rs`.

use portcullis_core::admin_token::AdminTokenRecord;
use portcullis_core::store::StoreResult;

use crate::rows::bytes;

pub(crate) const INSERT: &str =
    "INSERT INTO admin_tokens (id, realm, verifier_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const GET: &str = "SELECT id, realm, verifier_hash, created_at, revoked_at FROM admin_tokens WHERE id = $1";
/// Ids are time-ordered, so this is creation order.
pub(crate) const LIST: &str = "SELECT id, realm, verifier_hash, created_at, revoked_at FROM admin_tokens ORDER BY id";
pub(crate) const REVOKE: &str = "UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

#[derive(sqlx::FromRow)]
pub(crate) struct AdminTokenRow {
    id: Vec<u8>,
    realm: Option<String>,
    verifier_hash: Vec<u8>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<AdminTokenRow> for AdminTokenRecord {
    type Error = portcullis_core::store::StoreError;

    fn try_from(r: AdminTokenRow) -> StoreResult<Self> {
        Ok(AdminTokenRecord {
            id: bytes(r.id, "admin_tokens.id")?,
            realm: r.realm,
            verifier_hash: bytes(r.verifier_hash, "admin_tokens.verifier_hash")?,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// Expands `impl AdminTokenStore for $store`, whose `pools` field holds the wing's
/// `Pools<$db>`, with `$map_err` as the wing's error mapping.
macro_rules! admin_token_store {
    ($store:ty, $db:ty, $map_err:path) => {
        use portcullis_core::admin_token::AdminTokenRecord;
        use portcullis_core::store::{AdminTokenStore, StoreResult};

        use $crate::admin_tokens::{AdminTokenRow, GET, INSERT, LIST, REVOKE};

        #[async_trait::async_trait]
        impl AdminTokenStore for $store {
            async fn create_admin_token(&self, t: &AdminTokenRecord) -> StoreResult<()> {
                sqlx::query::<$db>(INSERT)
                    .bind(&t.id[..])
                    .bind(t.realm.as_deref())
                    .bind(&t.verifier_hash[..])
                    .bind(t.created_at)
                    .bind(t.revoked_at)
                    .execute(&self.pools.write)
                    .await
                    .map_err($map_err)?;
                Ok(())
            }

            async fn get_admin_token(&self, id: &[u8; 16]) -> StoreResult<Option<AdminTokenRecord>> {
                sqlx::query_as::<$db, AdminTokenRow>(GET)
                    .bind(&id[..])
                    .fetch_optional(&self.pools.read)
                    .await
                    .map_err($map_err)?
                    .map(AdminTokenRecord::try_from)
                    .transpose()
            }

            async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>> {
                sqlx::query_as::<$db, AdminTokenRow>(LIST)
                    .fetch_all(&self.pools.read)
                    .await
                    .map_err($map_err)?
                    .into_iter()
                    .map(AdminTokenRecord::try_from)
                    .collect()
            }

            async fn revoke_admin_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(REVOKE)
                    .bind(&id[..])
                    .bind(now)
                    .execute(&self.pools.write)
                    .await
                    .map_err($map_err)?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use admin_token_store;
