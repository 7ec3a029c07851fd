//! PostgreSQL: grants, authorization codes and refresh rotation.

use portcullis_core::model::{AuthorizationCode, Grant, TokenRecord};
use portcullis_core::store::{CodeRedemption, GrantStore, Rotation, StoreResult};
use sqlx::Postgres;

use super::PgStore;
use super::browser_flow;
use super::cold::{self, bind_token, query};
use super::errors::map_err;
use crate::rows::{AuthorizationCodeRow, SpentTokenRow};
use crate::sql;

#[async_trait::async_trait]
impl GrantStore for PgStore {
    async fn create_grant(&self, grant: &Grant, tokens: &[TokenRecord]) -> StoreResult<()> {
        cold::create_grant(&self.pools, grant, tokens).await
    }

    async fn create_grant_with_code(
        &self,
        grant: &Grant,
        code: &AuthorizationCode,
        request_id: Option<&[u8; 16]>,
    ) -> StoreResult<()> {
        browser_flow::create_grant_with_code(&self.pools, grant, code, request_id).await
    }

    async fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>> {
        self.code_reader.read(*id).await
    }

    async fn redeem_code(&self, id: &[u8; 16], now: i64, tokens: &[TokenRecord]) -> StoreResult<CodeRedemption> {
        // The first redemption, nearly every call: one statement, shared with the
        // redemptions of other requests.
        if let Some(code) = self.code_redeemer.write((*id, now, tokens.to_vec())).await? {
            return Ok(CodeRedemption::Redeemed(code));
        }
        // Used or unknown: nothing was written. The transaction below tries the
        // redemption again (it fails again: a used code stays used) and, on a
        // replay, revokes the grant.
        let _claim = crate::handoff::claim_write()?;
        let mut tx = self.pools.begin().await.map_err(map_err)?;
        let redeemed = sqlx::query_as::<Postgres, AuthorizationCodeRow>(sql::CODE_REDEEM)
            .bind(&id[..])
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let outcome = match redeemed {
            Some(row) => {
                for token in tokens {
                    bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err(map_err)?;
                }
                CodeRedemption::Redeemed(row.try_into()?)
            }
            None => {
                let stored = sqlx::query_as::<Postgres, AuthorizationCodeRow>(sql::CODE_GET)
                    .bind(&id[..])
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                match stored {
                    None => CodeRedemption::Unknown,
                    Some(row) => {
                        let code = AuthorizationCode::try_from(row)?;
                        query(sql::GRANT_REVOKE)
                            .bind(&code.grant_id[..])
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        CodeRedemption::Replayed(code)
                    }
                }
            }
        };
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }

    async fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>> {
        self.grant_reader.read(*id).await
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
        // A live unspent token, nearly every call: one statement, shared with the
        // rotations of other requests.
        if self.refresh_rotator.write((*old, now, new_tokens.to_vec())).await? {
            return Ok(Rotation::Rotated);
        }
        // Spent, revoked or unknown, and nothing was written: the transaction below
        // spends nothing either (a spent or revoked token stays so), and reads the
        // token's state in a snapshot taken after any rotation that beat this one.
        let _claim = crate::handoff::claim_write()?;
        let mut tx = self.pools.begin().await.map_err(map_err)?;
        let spent = query(sql::TOKEN_SPEND).bind(&old[..]).bind(now).execute(&mut *tx).await.map_err(map_err)?;
        let outcome = if spent.rows_affected() > 0 {
            Rotation::Rotated
        } else {
            // A missing token is a reuse too: there is nothing to revoke, and
            // nothing is stored.
            let state = sqlx::query_as::<Postgres, SpentTokenRow>(sql::TOKEN_SPENT)
                .bind(&old[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if SpentTokenRow::within_grace(state.as_ref(), grace_since) {
                Rotation::WithinGrace
            } else {
                if let Some(grant_id) = state.and_then(|s| s.grant_id) {
                    query(sql::GRANT_REVOKE).bind(grant_id).bind(now).execute(&mut *tx).await.map_err(map_err)?;
                }
                Rotation::Reused
            }
        };
        if outcome != Rotation::Reused {
            for token in new_tokens {
                bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err(map_err)?;
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }
}
