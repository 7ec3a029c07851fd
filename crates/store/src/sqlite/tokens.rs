//! SQLite: access and refresh tokens.

use portcullis_core::model::{StoredToken, TokenRecord};
use portcullis_core::store::{StoreResult, TokenStore};

use super::SqliteStore;
use super::statements::{
    Columns, client_revision_of, execute, insert_token, query_optional, stored_token, stored_token_row,
};
use crate::sql;

#[async_trait::async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token_if_client_at(&self, token: &TokenRecord, client_revision: i64) -> StoreResult<bool> {
        self.writer.insert_token_if_client_at(token.clone(), client_revision).await
    }

    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
        self.readers.read(|conn| stored_token(conn, id))
    }

    async fn get_token_and_client_revision(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
    ) -> StoreResult<(Option<StoredToken>, Option<i64>)> {
        if let Some(kept) = self.hot_tokens.get(id, realm, client_id) {
            let epoch: Option<i64> =
                self.readers.read(|conn| query_optional(conn, sql::TOKEN_EPOCH, [], |r| r.get(0)))?;
            if epoch == Some(kept.epoch) {
                return Ok((Some(kept.token), kept.client_revision));
            }
        }
        // One statement (one snapshot) when the token exists.
        self.readers.read(|conn| {
            let row = query_optional(conn, sql::TOKEN_GET_WITH_CLIENT_REVISION, [&&id[..], &realm, &client_id], |r| {
                let mut c = Columns::new(r);
                let epoch = c.get::<i64>("token_epoch")?;
                let revision = c.get::<Option<i64>>("client_revision")?;
                Ok((stored_token_row(&mut c)?, revision, epoch))
            })?;
            match row {
                Some((token, revision, epoch)) => {
                    let token: StoredToken = token.try_into()?;
                    self.hot_tokens.keep(id, realm, client_id, &token, revision, epoch);
                    Ok((Some(token), revision))
                }
                None => Ok((None, client_revision_of(conn, realm, client_id)?)),
            }
        })
    }

    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        let id = *id;
        self.writer.write_one_statement(move |conn| Ok(execute(conn, sql::TOKEN_REVOKE, [&&id[..], &now])? > 0)).await
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> StoreResult<()> {
        let tokens = tokens.to_vec();
        let one = tokens.len() == 1;
        let work = move |conn: &rusqlite::Connection| tokens.iter().try_for_each(|t| insert_token(conn, t));
        if one { self.writer.write_one_statement(work).await } else { self.writer.write(work).await }
    }
}
