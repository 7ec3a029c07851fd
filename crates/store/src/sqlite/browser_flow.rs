//! SQLite: the statements of the browser flow (`GET /oauth/authorize` with a signed-in
//! session and the forms after it) on the hot path's connections: the session, the
//! pending request and the consent read by a reader, the request stored and the code
//! issued by the writer thread. Through sqlx each of these calls was a hand-off to a
//! worker thread and back, and the flow makes five of them per code (bench/README.md,
//! "The browser flow on the hot path").

use portcullis_core::model::{AuthorizationCode, AuthorizationRequest, BrowserSession, Grant};
use portcullis_core::store::{PendingLimits, StoreError, StoreResult};
use rusqlite::Connection;
use rusqlite::types::ToSql;

use super::statements::{Columns, execute, query_optional};
use crate::rows::{AuthorizationRequestRow, BrowserSessionRow, SPACE, join};
use crate::sql;

pub(super) fn session(conn: &Connection, id_hash: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>> {
    query_optional(conn, sql::SESSION_GET, [&&id_hash[..], &now], |r| {
        let mut c = Columns::new(r);
        Ok(BrowserSessionRow {
            id_hash: c.get("id_hash")?,
            realm: c.get("realm")?,
            user_id: c.get("user_id")?,
            authenticated_at: c.get("authenticated_at")?,
            created_at: c.get("created_at")?,
            expires_at: c.get("expires_at")?,
        })
    })?
    .map(BrowserSession::try_from)
    .transpose()
}

pub(super) fn request(conn: &Connection, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>> {
    query_optional(conn, sql::REQUEST_GET, [&&id[..], &now], |r| {
        let mut c = Columns::new(r);
        Ok(AuthorizationRequestRow {
            id: c.get("id")?,
            realm: c.get("realm")?,
            session_hash: c.get("session_hash")?,
            client_id: c.get("client_id")?,
            redirect_uri: c.get("redirect_uri")?,
            redirect_uri_given: c.get("redirect_uri_given")?,
            response_type: c.get("response_type")?,
            response_mode: c.get("response_mode")?,
            scope: c.get("scope")?,
            state: c.get("state")?,
            code_challenge: c.get("code_challenge")?,
            code_challenge_method: c.get("code_challenge_method")?,
            prompt: c.get("prompt")?,
            csrf_hash: c.get("csrf_hash")?,
            created_at: c.get("created_at")?,
            expires_at: c.get("expires_at")?,
            client_addr: c.get("client_addr")?,
        })
    })?
    .map(AuthorizationRequest::try_from)
    .transpose()
}

pub(super) fn consent(conn: &Connection, realm: &str, user_id: &str, client_id: &str) -> StoreResult<Option<String>> {
    query_optional(conn, sql::CONSENT_GET, [&realm, &user_id, &client_id], |r| r.get(0))
}

fn insert_session(conn: &Connection, s: &BrowserSession) -> StoreResult<()> {
    let values: [&dyn ToSql; 6] =
        [&&s.id_hash[..], &s.realm, &s.user_id, &s.authenticated_at, &s.created_at, &s.expires_at];
    execute(conn, sql::SESSION_INSERT, values).map(drop)
}

fn insert_request(conn: &Connection, r: &AuthorizationRequest) -> StoreResult<()> {
    let values: [&dyn ToSql; 17] = [
        &&r.id[..],
        &r.realm,
        &&r.session_hash[..],
        &r.client_id,
        &r.redirect_uri,
        &r.redirect_uri_given,
        &r.response_type,
        &r.response_mode,
        &r.scope,
        &r.state,
        &r.code_challenge,
        &r.code_challenge_method,
        &r.prompt,
        &&r.csrf_hash[..],
        &r.created_at,
        &r.expires_at,
        &r.client_addr,
    ];
    execute(conn, sql::REQUEST_INSERT, values).map(drop)
}

/// Stores `request` (and `session`, when it is new) unless its address already has
/// `limits.per_address` live requests (`Ok(false)`, nothing written), then keeps the
/// session's newest `limits.per_session`. Several statements: run it in a savepoint.
pub(super) fn create_capped_request(
    conn: &Connection,
    session: Option<&BrowserSession>,
    request: &AuthorizationRequest,
    now: i64,
    limits: PendingLimits,
) -> StoreResult<bool> {
    if let (Some(addr), cap @ 1..) = (request.client_addr.as_deref(), limits.per_address) {
        let cap = i64::from(cap);
        let live: i64 =
            query_optional(conn, sql::REQUEST_COUNT_FOR_ADDRESS, [&addr, &now, &cap], |r| r.get(0))?.unwrap_or(0);
        if live >= cap {
            return Ok(false);
        }
    }
    if let Some(session) = session {
        insert_session(conn, session)?;
    }
    insert_request(conn, request)?;
    let keep = i64::from(limits.per_session.max(1));
    execute(conn, sql::REQUEST_TRIM_SESSION, [&&request.session_hash[..], &keep])?;
    Ok(true)
}

/// Consumes the pending request `request_id` (if one was stored) and stores the
/// grant and its code; `NotFound` (nothing written) when the request was already
/// consumed. Several statements: run it in a savepoint.
pub(super) fn create_grant_with_code(
    conn: &Connection,
    grant: &Grant,
    code: &AuthorizationCode,
    request_id: Option<&[u8; 16]>,
) -> StoreResult<()> {
    if let Some(request_id) = request_id
        && execute(conn, sql::REQUEST_DELETE, [&&request_id[..]])? == 0
    {
        return Err(StoreError::NotFound);
    }
    let teams = join(&grant.teams, SPACE, "team")?;
    let permissions = join(&grant.permissions, SPACE, "permission")?;
    let grant_values: [&dyn ToSql; 11] = [
        &&grant.id[..],
        &grant.realm,
        &grant.client_id,
        &grant.subject,
        &grant.username,
        &grant.scope,
        &teams,
        &permissions,
        &grant.test,
        &grant.created_at,
        &grant.revoked_at,
    ];
    execute(conn, sql::GRANT_INSERT, grant_values)?;
    let code_values: [&dyn ToSql; 12] = [
        &&code.id[..],
        &&code.verifier_hash[..],
        &code.realm,
        &code.client_id,
        &&code.grant_id[..],
        &code.redirect_uri,
        &code.redirect_uri_given,
        &code.code_challenge,
        &code.code_challenge_method,
        &code.issued_at,
        &code.expires_at,
        &code.used_at,
    ];
    execute(conn, sql::CODE_INSERT, code_values).map(drop)
}
