//! SQLite: grants, authorization codes and refresh rotation.

use portcullis_core::model::{AuthorizationCode, Grant, TokenRecord};
use portcullis_core::store::{CodeRedemption, GrantStore, Rotation, StoreResult};

use super::SqliteStore;
use super::browser_flow;
use super::cold;
use super::statements::{code_row, execute, grant_row, insert_token, query_optional, spent_row};
use crate::rows::SpentTokenRow;
use crate::sql;

#[async_trait::async_trait]
impl GrantStore for SqliteStore {
    async fn create_grant(&self, grant: &Grant, tokens: &[TokenRecord]) -> StoreResult<()> {
        cold::create_grant(&self.pools, grant, tokens).await
    }

    async fn create_grant_with_code(
        &self,
        grant: &Grant,
        code: &AuthorizationCode,
        request_id: Option<&[u8; 16]>,
    ) -> StoreResult<()> {
        let (grant, code, request_id) = (grant.clone(), code.clone(), request_id.copied());
        self.writer
            .write(move |conn| browser_flow::create_grant_with_code(conn, &grant, &code, request_id.as_ref()))
            .await
    }

    async fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>> {
        self.readers.read(|conn| {
            query_optional(conn, sql::CODE_GET, [&&id[..]], code_row)?.map(AuthorizationCode::try_from).transpose()
        })
    }

    async fn redeem_code(&self, id: &[u8; 16], now: i64, tokens: &[TokenRecord]) -> StoreResult<CodeRedemption> {
        let (id, tokens) = (*id, tokens.to_vec());
        self.writer
            .write(move |conn| {
                if let Some(row) = query_optional(conn, sql::CODE_REDEEM, [&&id[..], &now], code_row)? {
                    tokens.iter().try_for_each(|t| insert_token(conn, t))?;
                    return Ok(CodeRedemption::Redeemed(row.try_into()?));
                }
                let Some(row) = query_optional(conn, sql::CODE_GET, [&&id[..]], code_row)? else {
                    return Ok(CodeRedemption::Unknown);
                };
                let code = AuthorizationCode::try_from(row)?;
                execute(conn, sql::GRANT_REVOKE, [&&code.grant_id[..], &now])?;
                Ok(CodeRedemption::Replayed(code))
            })
            .await
    }

    async fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>> {
        self.readers
            .read(|conn| query_optional(conn, sql::GRANT_GET, [&&id[..]], grant_row)?.map(Grant::try_from).transpose())
    }

    async fn list_grants(&self, realm: &str, user: Option<&str>, client: Option<&str>) -> StoreResult<Vec<Grant>> {
        cold::list_grants(&self.pools, realm, user, client).await
    }

    async fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        cold::revoke_grant(&self.pools, id, now).await
    }

    async fn rotate_refresh_token(
        &self,
        old: &[u8; 16],
        now: i64,
        grace_since: Option<i64>,
        new_tokens: &[TokenRecord],
    ) -> StoreResult<Rotation> {
        let (old, new_tokens) = (*old, new_tokens.to_vec());
        self.writer
            .write(move |conn| {
                let outcome = if execute(conn, sql::TOKEN_SPEND, [&&old[..], &now])? > 0 {
                    Rotation::Rotated
                } else {
                    // A missing token is a reuse too: nothing to revoke, nothing stored.
                    let state = query_optional(conn, sql::TOKEN_SPENT, [&&old[..]], spent_row)?;
                    if SpentTokenRow::within_grace(state.as_ref(), grace_since) {
                        Rotation::WithinGrace
                    } else {
                        if let Some(grant_id) = state.and_then(|s| s.grant_id) {
                            execute(conn, sql::GRANT_REVOKE, [&grant_id, &now])?;
                        }
                        Rotation::Reused
                    }
                };
                if outcome != Rotation::Reused {
                    new_tokens.iter().try_for_each(|t| insert_token(conn, t))?;
                }
                Ok(outcome)
            })
            .await
    }
}
