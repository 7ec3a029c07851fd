//! `/admin/realms/{realm}/audit`: the realm's audit events (`portcullis_core::audit`),
//! and `/admin/audit`: the server's (those of no realm: admin tokens for every realm,
//! the public URL, `keys.rewrap`), oldest first, a page at a time (keyset
//! pagination in the database: the log is large), filtered by time and kind.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::audit::{AuditKind, AuditQuery, AuditRecord, parse_since};
use portcullis_core::token::{parse_token_id_hex, token_id_hex};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminApiError, ErrorBody};
use super::extract::{Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, json};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// 32 hex digits; time-ordered.
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    pub realm: Option<String>,
    /// `token.issued`, `token.revoked`, `grant.revoked`, `refresh.reused`,
    /// `sign_in.succeeded`, `sign_in.failed`, `sign_in.locked`, `client_auth.failed`,
    /// `admin.change`.
    pub kind: String,
    /// The admin token's id (admin changes) or the account's username (sign-ins).
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub grant_type: Option<String>,
    /// The admin action, a revocation's reason, or the endpoint of a failure.
    pub action: Option<String>,
    /// The token, grant, client or user acted on (ids only).
    pub target: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// An admin change's `before` and `after`, or further facts.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<&AuditRecord> for AuditEventView {
    fn from(e: &AuditRecord) -> Self {
        Self {
            id: token_id_hex(&e.id),
            at: e.at,
            realm: e.realm.clone(),
            kind: e.kind.as_str().to_owned(),
            actor: e.actor.clone(),
            client_id: e.client_id.clone(),
            subject: e.subject.clone(),
            grant_type: e.grant_type.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            address: e.address.clone(),
            request_id: e.request_id.clone(),
            detail: e.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
        }
    }
}

page_of!(AuditEventPage, AuditEventView);

/// Filters of the audit list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by hand from `QueryParams`; this type documents them.
pub struct AuditFilter {
    /// Events at or after this time: Unix seconds, or an age (`30m`, `24h`, `7d`).
    since: Option<String>,
    /// Only events of this kind (e.g. `sign_in.failed`).
    kind: Option<String>,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/audit", tag = "audit", operation_id = "list_audit_events",
    params(("realm" = String, Path), PageParams, AuditFilter),
    responses((status = 200, description = "oldest first", body = AuditEventPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let page = page_request(&state, &q)?;
    admin(&state).realm(realm).await?;
    list_page(&state, Some(realm), page).await
}

#[utoipa::path(get, path = "/admin/audit", tag = "audit", operation_id = "list_server_audit_events",
    params(PageParams, AuditFilter),
    responses((status = 200, description = "the events of no realm, oldest first", body = AuditEventPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_server(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    // They concern every realm (admin tokens for all of them, the public URL), which a
    // realm-scoped token may not see.
    caller.every_realm("listing the server's audit events")?;
    let page = page_request(&state, &q)?;
    list_page(&state, None, page).await
}

/// A listing's page and filters, read from the query.
struct AuditPage {
    page: PageRequest,
    since: Option<i64>,
    kind: Option<AuditKind>,
    after: Option<[u8; 16]>,
}

fn page_request(state: &AppState, q: &QueryParams) -> Result<AuditPage, AdminApiError> {
    let filters = ["since", "kind"];
    let page = PageRequest::from_query(q, &filters)?;
    let allowed = [&["limit", "after"][..], &filters].concat();
    let since = q.one("since", &allowed)?;
    let since = since.map(|s| parse_since(s, state.authority.now())).transpose();
    let since = since.map_err(|e| AdminApiError::invalid("since", e))?;
    let kind = q.one("kind", &allowed)?.map(str::parse::<AuditKind>).transpose();
    let kind = kind.map_err(|e| AdminApiError::invalid("kind", e))?;
    let after = match page.after.as_deref() {
        None => None,
        Some(a) => Some(parse_token_id_hex(a).ok_or_else(|| AdminApiError::invalid("after", "not a page cursor"))?),
    };
    Ok(AuditPage { page, since, kind, after })
}

/// The page of `realm`'s events (`None`: the server's).
async fn list_page(state: &AppState, realm: Option<&str>, p: AuditPage) -> Result<Response, AdminApiError> {
    // What this instance has buffered is listed too.
    state.authority.audit.flush().await;
    let limit = u32::try_from(p.page.limit).unwrap_or(u32::MAX);
    let query = AuditQuery {
        realm: realm.map(str::to_owned),
        since: p.since,
        kind: p.kind,
        after: p.after,
        limit: limit.saturating_add(1),
    };
    let mut events = state.authority.store.list_audit_events(&query).await?;
    let more = events.len() > p.page.limit;
    events.truncate(p.page.limit);
    let next = if more { events.last().map(|e| token_id_hex(&e.id)) } else { None };
    Ok(json(StatusCode::OK, &AuditEventPage { items: events.iter().map(AuditEventView::from).collect(), next }))
}
