//! `/admin/realms/{realm}/roles`: which permissions each role carries. A role exists
//! while it carries one; accounts name their roles (`roles` of an account).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content};
use crate::AppState;

const FIELDS: &[(&str, &str)] = &[("permission '", "permissions")];

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub role: String,
    pub permissions: Vec<String>,
}

page_of!(RolePage, RoleView);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Existing permissions of the realm; the role carries exactly these.
    pub permissions: Vec<String>,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/roles", tag = "roles", operation_id = "list_roles",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, description = "by role name", body = RolePage), (status = 400, body = ErrorBody),
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
    let (items, next) = page.page(admin(&state).role_permissions(realm).await?, |(role, _)| role.clone());
    let items = items.into_iter().map(|(role, permissions)| RoleView { role, permissions }).collect();
    Ok(json(StatusCode::OK, &RolePage { items, next }))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/roles/{role}", tag = "roles", operation_id = "get_role",
    params(("realm" = String, Path), ("role" = String, Path)),
    responses((status = 200, body = RoleView), (status = 401, body = ErrorBody),
        (status = 404, description = "the role carries no permission, or the realm is unknown or another's",
            body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let (realm, role) = (p.get(0), p.get(1));
    caller.realm(realm)?;
    let permissions = admin(&state).role(realm, role).await?;
    Ok(json(StatusCode::OK, &RoleView { role: role.to_owned(), permissions }))
}

#[utoipa::path(put, path = "/admin/realms/{realm}/roles/{role}", tag = "roles", operation_id = "set_role_permissions",
    params(("realm" = String, Path), ("role" = String, Path)), request_body = RoleInput,
    responses((status = 200, body = RoleView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<RoleInput>,
) -> Result<Response, AdminApiError> {
    let (realm, role) = (p.get(0), p.get(1));
    caller.realm(realm)?;
    let permissions = admin(&state)
        .set_role_permissions(realm, role, &input.permissions)
        .await
        .map_err(|e| AdminApiError::with_fields(e, FIELDS))?;
    audit::record(&state, &caller, "role.set_permissions", Some(realm), Some(role)).await;
    Ok(json(StatusCode::OK, &RoleView { role: role.to_owned(), permissions }))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}/roles/{role}", tag = "roles",
    operation_id = "delete_role_permissions", params(("realm" = String, Path), ("role" = String, Path)),
    responses((status = 204, description = "the role carries no permission any more"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let (realm, role) = (p.get(0), p.get(1));
    caller.realm(realm)?;
    admin(&state).role(realm, role).await?;
    admin(&state).set_role_permissions(realm, role, &[]).await?;
    audit::record(&state, &caller, "role.delete_permissions", Some(realm), Some(role)).await;
    Ok(no_content())
}
