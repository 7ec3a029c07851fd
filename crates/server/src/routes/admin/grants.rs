//! `/admin/realms/{realm}/grants`: grants (a grant's tokens live and die with it):
//! list, get, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::model::Grant;
use portcullis_core::token::{parse_token_id_hex, token_id_hex};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminApiError, ErrorBody};
use super::extract::{Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// 32 hex digits; time-ordered.
    pub id: String,
    pub realm: String,
    pub client_id: String,
    pub subject: String,
    pub username: Option<String>,
    pub scope: String,
    pub teams: Vec<String>,
    pub permissions: Vec<String>,
    pub test: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        Self {
            id: token_id_hex(&g.id),
            realm: g.realm.clone(),
            client_id: g.client_id.clone(),
            subject: g.subject.clone(),
            username: g.username.clone(),
            scope: g.scope.clone(),
            teams: g.teams.clone(),
            permissions: g.permissions.clone(),
            test: g.test,
            created_at: g.created_at,
            revoked_at: g.revoked_at,
        }
    }
}

page_of!(GrantPage, GrantView);

/// Filters of the grant list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by hand from `QueryParams`; this type documents them.
pub struct GrantFilter {
    /// Only this user's grants (id or username).
    user: Option<String>,
    /// Only this client's grants (id or name).
    client: Option<String>,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/grants", tag = "grants", operation_id = "list_grants",
    params(("realm" = String, Path), PageParams, GrantFilter),
    responses((status = 200, description = "oldest first", body = GrantPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let filters = ["user", "client"];
    let page = PageRequest::from_query(&q, &filters)?;
    let user = q.one("user", &[&["limit", "after"][..], &filters].concat())?;
    let client = q.one("client", &[&["limit", "after"][..], &filters].concat())?;
    let grants = admin(&state).grants(realm, user, client).await?;
    let (items, next) = page.page(grants, |g| token_id_hex(&g.id));
    Ok(json(StatusCode::OK, &GrantPage { items: items.iter().map(GrantView::from).collect(), next }))
}

/// The grant `id_hex` of `realm`; any other grant, or none, is 404.
async fn grant_of(state: &AppState, realm: &str, id_hex: &str) -> Result<Grant, AdminApiError> {
    admin(state).realm(realm).await?;
    let not_found = || AdminApiError::not_found(format!("grant '{id_hex}' does not exist in realm '{realm}'"));
    let id = parse_token_id_hex(id_hex).ok_or_else(not_found)?;
    state.authority.store.get_grant(&id).await?.filter(|g| g.realm == realm).ok_or_else(not_found)
}

#[utoipa::path(get, path = "/admin/realms/{realm}/grants/{grant_id}", tag = "grants", operation_id = "get_grant",
    params(("realm" = String, Path), ("grant_id" = String, Path, description = "32 hex digits")),
    responses((status = 200, body = GrantView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &GrantView::from(&grant_of(&state, realm, p.get(1)).await?)))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/grants/{grant_id}/revoke", tag = "grants",
    operation_id = "revoke_grant",
    params(("realm" = String, Path), ("grant_id" = String, Path, description = "32 hex digits")),
    responses((status = 204, description = "revoked with every token derived from it"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let grant = grant_of(&state, realm, p.get(1)).await?;
    let id = token_id_hex(&grant.id);
    admin(&state).revoke_grant(&id).await?;
    audit::record(&state, &caller, "grant.revoke", Some(realm), Some(&id)).await;
    state.authority.audit_grant_revoked(realm, &grant.client_id, &grant.id, "admin").await;
    Ok(no_content())
}
