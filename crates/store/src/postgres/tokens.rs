//! PostgreSQL: access and refresh tokens.

use portcullis_core::model::{StoredToken, TokenRecord};
use portcullis_core::store::{StoreResult, TokenStore};
use sqlx::Postgres;

use super::PgStore;
use super::cold::{bind_token, query};
use super::errors::map_err;
use crate::rows::{StoredTokenRow, StoredTokenWithRevisionRow};
use crate::sql;

#[async_trait::async_trait]
impl TokenStore for PgStore {
    async fn insert_token_if_client_at(&self, token: &TokenRecord, client_revision: i64) -> StoreResult<bool> {
        self.token_writer.insert(token.clone(), Some(client_revision)).await
    }

    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
        sqlx::query_as::<Postgres, StoredTokenRow>(sql::TOKEN_GET)
            .bind(&id[..])
            .fetch_optional(&self.pools.read)
            .await
            .map_err(map_err)?
            .map(StoredToken::try_from)
            .transpose()
    }

    async fn get_token_and_client_revision(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
    ) -> StoreResult<(Option<StoredToken>, Option<i64>)> {
        // One statement, one snapshot, one round trip when the token exists.
        let row = sqlx::query_as::<Postgres, StoredTokenWithRevisionRow>(sql::TOKEN_GET_WITH_CLIENT_REVISION)
            .bind(&id[..])
            .bind(realm)
            .bind(client_id)
            .fetch_optional(&self.pools.read)
            .await
            .map_err(map_err)?;
        if let Some(row) = row {
            return Ok((Some(row.token.try_into()?), row.client_revision));
        }
        let revision: Option<i64> = sqlx::query_scalar(sql::CLIENT_REVISION)
            .bind(realm)
            .bind(client_id)
            .fetch_optional(&self.pools.read)
            .await
            .map_err(map_err)?;
        Ok((None, revision))
    }

    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        let _claim = crate::handoff::claim_write()?;
        let done =
            query(sql::TOKEN_REVOKE).bind(&id[..]).bind(now).execute(&self.pools.write).await.map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> StoreResult<()> {
        let _claim = crate::handoff::claim_write()?;
        let mut tx = self.pools.begin().await.map_err(map_err)?;
        for token in tokens {
            bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}
