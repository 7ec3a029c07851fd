//! `/admin/realms/{realm}/permissions`: the realm's permissions, each bound to a bit of
//! the tokens' `perm_bits` claim when created.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::org::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    pub name: String,
    pub realm: String,
    /// Its bit in the `perm_bits` claim.
    pub bit: u32,
    pub created_at: i64,
}

impl From<&Permission> for PermissionView {
    fn from(p: &Permission) -> Self {
        Self { name: p.name.clone(), realm: p.realm.clone(), bit: p.bit, created_at: p.created_at }
    }
}

page_of!(PermissionPage, PermissionView);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionInput {
    /// 1 to 64 letters, digits, `.`, `:`, `_` or `-`.
    pub name: String,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/permissions", tag = "permissions",
    operation_id = "list_permissions", params(("realm" = String, Path), PageParams),
    responses((status = 200, description = "by name", body = PermissionPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let page = PageRequest::from_query(&q, &[])?;
    let (items, next) = page.page(admin(&state).permissions(realm).await?, |p| p.name.clone());
    Ok(json(StatusCode::OK, &PermissionPage { items: items.iter().map(PermissionView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/permissions", tag = "permissions",
    operation_id = "create_permission", params(("realm" = String, Path)), request_body = PermissionInput,
    responses((status = 201, body = PermissionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<PermissionInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let permission = admin(&state).create_permission(realm, &input.name).await?;
    audit::record(&state, &caller, "permission.create", Some(realm), Some(&permission.name)).await;
    Ok(json(StatusCode::CREATED, &PermissionView::from(&permission)))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/permissions/{name}", tag = "permissions",
    operation_id = "get_permission", params(("realm" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = PermissionView), (status = 401, body = ErrorBody),
        (status = 404, description = "no such permission, or the realm is unknown or another's", body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &PermissionView::from(&admin(&state).permission(realm, p.get(1)).await?)))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}/permissions/{name}", tag = "permissions",
    operation_id = "delete_permission", params(("realm" = String, Path), ("name" = String, Path)),
    responses((status = 204, description = "deleted, and taken from every role"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    admin(&state).delete_permission(realm, p.get(1)).await?;
    audit::record(&state, &caller, "permission.delete", Some(realm), Some(p.get(1))).await;
    Ok(no_content())
}
