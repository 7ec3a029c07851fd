//! PostgreSQL: the statements of the browser flow (`GET /oauth/authorize` with a
//! signed-in session and the forms after it). SQLite runs them on its hot path's
//! connections instead (`crate::sqlite::browser_flow`).

use portcullis_core::model::{AuthorizationCode, AuthorizationRequest, BrowserSession, Grant};
use portcullis_core::store::{PendingLimits, StoreResult};
use sqlx::Postgres;

use super::cold::{Query, bind_grant, bind_request, bind_session, found, query};
use super::errors::map_err;
use crate::cold::Pools;
use crate::rows::{AuthorizationRequestRow, BrowserSessionRow};
use crate::sql;

fn bind_code<'q>(q: Query<'q>, c: &AuthorizationCode) -> Query<'q> {
    q.bind(&c.id[..])
        .bind(&c.verifier_hash[..])
        .bind(&c.realm)
        .bind(&c.client_id)
        .bind(&c.grant_id[..])
        .bind(&c.redirect_uri)
        .bind(c.redirect_uri_given)
        .bind(c.code_challenge.as_deref())
        .bind(c.code_challenge_method.as_deref())
        .bind(c.issued_at)
        .bind(c.expires_at)
        .bind(c.used_at)
}

pub(crate) async fn get_session(
    pools: &Pools<Postgres>,
    id_hash: &[u8; 32],
    now: i64,
) -> StoreResult<Option<BrowserSession>> {
    sqlx::query_as::<Postgres, BrowserSessionRow>(sql::SESSION_GET)
        .bind(&id_hash[..])
        .bind(now)
        .fetch_optional(&pools.read)
        .await
        .map_err(map_err)?
        .map(BrowserSession::try_from)
        .transpose()
}

pub(crate) async fn create_capped_authorization_request(
    pools: &Pools<Postgres>,
    session: Option<&BrowserSession>,
    request: &AuthorizationRequest,
    now: i64,
    limits: PendingLimits,
) -> StoreResult<bool> {
    let mut tx = pools.begin().await.map_err(map_err)?;
    if let (Some(addr), cap @ 1..) = (request.client_addr.as_deref(), limits.per_address) {
        let live = sqlx::query_scalar::<Postgres, i64>(sql::REQUEST_COUNT_FOR_ADDRESS)
            .bind(addr)
            .bind(now)
            .bind(i64::from(cap))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if live >= i64::from(cap) {
            return Ok(false);
        }
    }
    if let Some(session) = session {
        bind_session(query(sql::SESSION_INSERT), session).execute(&mut *tx).await.map_err(map_err)?;
    }
    bind_request(query(sql::REQUEST_INSERT), request).execute(&mut *tx).await.map_err(map_err)?;
    query(sql::REQUEST_TRIM_SESSION)
        .bind(&request.session_hash[..])
        .bind(i64::from(limits.per_session.max(1)))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(true)
}

pub(crate) async fn get_authorization_request(
    pools: &Pools<Postgres>,
    id: &[u8; 16],
    now: i64,
) -> StoreResult<Option<AuthorizationRequest>> {
    sqlx::query_as::<Postgres, AuthorizationRequestRow>(sql::REQUEST_GET)
        .bind(&id[..])
        .bind(now)
        .fetch_optional(&pools.read)
        .await
        .map_err(map_err)?
        .map(AuthorizationRequest::try_from)
        .transpose()
}

pub(crate) async fn get_consent(
    pools: &Pools<Postgres>,
    realm: &str,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Option<String>> {
    sqlx::query_scalar::<Postgres, String>(sql::CONSENT_GET)
        .bind(realm)
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&pools.read)
        .await
        .map_err(map_err)
}

pub(crate) async fn create_grant_with_code(
    pools: &Pools<Postgres>,
    grant: &Grant,
    code: &AuthorizationCode,
    request_id: Option<&[u8; 16]>,
) -> StoreResult<()> {
    let _claim = crate::handoff::claim_write()?;
    let mut tx = pools.begin().await.map_err(map_err)?;
    if let Some(request_id) = request_id {
        let consumed = query(sql::REQUEST_DELETE).bind(&request_id[..]).execute(&mut *tx).await.map_err(map_err)?;
        found(consumed.rows_affected())?;
    }
    bind_grant(query(sql::GRANT_INSERT), grant)?.execute(&mut *tx).await.map_err(map_err)?;
    bind_code(query(sql::CODE_INSERT), code).execute(&mut *tx).await.map_err(map_err)?;
    tx.commit().await.map_err(map_err)
}
