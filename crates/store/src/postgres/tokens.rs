//! PostgreSQL: access and refresh tokens.

use portcullis_core::model::{StoredToken, TokenRecord};
use portcullis_core::store::{StoreResult, TokenStore};

use super::PgStore;
use super::cold::{bind_token, query};
use super::errors::map_err;
use crate::sql;

#[async_trait::async_trait]
impl TokenStore for PgStore {
    async fn insert_token_if_client_at(&self, token: &TokenRecord, client_revision: i64) -> StoreResult<bool> {
        self.token_writer.insert(token.clone(), Some(client_revision)).await
    }

    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
        Ok(self.token_reader.read((*id, None)).await?.0)
    }

    async fn get_token_and_client_revision(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
    ) -> StoreResult<(Option<StoredToken>, Option<i64>)> {
        if let Some(kept) = self.hot_tokens.get(id, realm, client_id)
            && self.epoch_reader.read(()).await? == Some(kept.epoch)
        {
            return Ok((Some(kept.token), kept.client_revision));
        }
        let (token, revision, epoch) =
            self.token_reader.read((*id, Some((realm.to_owned(), client_id.to_owned())))).await?;
        if let (Some(token), Some(epoch)) = (&token, epoch) {
            self.hot_tokens.keep(id, realm, client_id, token, revision, epoch);
        }
        Ok((token, revision))
    }

    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        self.token_revoker.write((*id, now)).await
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
