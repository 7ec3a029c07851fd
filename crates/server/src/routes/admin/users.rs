//! `/admin/realms/{realm}/users`: accounts, and the actions set password and unlock.
//! A password goes in and never comes out: views say only whether there is one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::admin::UserSpec;
use portcullis_core::model::{User, UserKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content, parse_enum};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub realm: String,
    pub username: String,
    /// `staff` or `customer`.
    pub kind: String,
    pub roles: Vec<String>,
    pub teams: Vec<String>,
    pub disabled: bool,
    pub has_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            realm: u.realm.clone(),
            username: u.username.clone(),
            kind: u.kind.as_str().to_owned(),
            roles: u.roles.clone(),
            teams: u.teams.clone(),
            disabled: u.disabled,
            has_password: u.password_hash.is_some(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

page_of!(UserPage, UserView);

/// Account fields; an absent field keeps its current (or default) value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Required at creation.
    pub username: Option<String>,
    /// Only at creation (afterwards: the set-password action); 8 to 1024 characters.
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
    /// `staff` (default) or `customer`.
    pub kind: Option<String>,
    pub disabled: Option<bool>,
}

impl UserInput {
    fn spec(&self) -> Result<UserSpec, AdminApiError> {
        Ok(UserSpec {
            username: self.username.clone(),
            roles: self.roles.clone(),
            teams: self.teams.clone(),
            kind: parse_enum::<UserKind>("kind", self.kind.as_deref())?,
            disabled: self.disabled,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    /// 8 to 1024 characters.
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocked {
    pub id: String,
    pub username: String,
    /// How many failure counters were cleared.
    pub cleared_counters: u64,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/users", tag = "users", operation_id = "list_users",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let page = PageRequest::from_query(&q, &[])?;
    admin(&state).realm(realm).await?;
    let users = state.authority.store.list_users(realm).await?;
    let (items, next) = page.page(users, |u| u.id.clone());
    Ok(json(StatusCode::OK, &UserPage { items: items.iter().map(UserView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/users", tag = "users", operation_id = "create_user",
    params(("realm" = String, Path)), request_body = UserInput,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<UserInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let user = admin(&state).create_user(realm, &input.spec()?, input.password.as_deref()).await?;
    audit::record(&state, &caller, "user.create", Some(realm), Some(&user.id)).await;
    Ok(json(StatusCode::CREATED, &UserView::from(&user)))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/users/{user_id}", tag = "users", operation_id = "get_user",
    params(("realm" = String, Path), ("user_id" = String, Path, description = "user id or username")),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &UserView::from(&admin(&state).user(realm, p.get(1)).await?)))
}

#[utoipa::path(patch, path = "/admin/realms/{realm}/users/{user_id}", tag = "users", operation_id = "update_user",
    params(("realm" = String, Path), ("user_id" = String, Path, description = "user id or username")),
    request_body = UserInput,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<UserInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    if input.password.is_some() {
        return Err(AdminApiError::invalid("password", "set a password with POST .../users/{user_id}/password"));
    }
    let before = UserView::from(&admin(&state).user(realm, p.get(1)).await?);
    let user = admin(&state).update_user(realm, p.get(1), &input.spec()?).await?;
    let after = UserView::from(&user);
    audit::record_update(&state, &caller, "user.update", Some(realm), Some(&user.id), (&before, &after)).await;
    Ok(json(StatusCode::OK, &after))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}/users/{user_id}", tag = "users", operation_id = "delete_user",
    params(("realm" = String, Path), ("user_id" = String, Path, description = "user id or username")),
    responses((status = 204, description = "deleted with their grants, tokens, consents and sessions"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let user = admin(&state).user(realm, p.get(1)).await?;
    admin(&state).delete_user(realm, &user.id).await?;
    audit::record(&state, &caller, "user.delete", Some(realm), Some(&user.id)).await;
    Ok(no_content())
}

#[utoipa::path(post, path = "/admin/realms/{realm}/users/{user_id}/password", tag = "users",
    operation_id = "set_user_password",
    params(("realm" = String, Path), ("user_id" = String, Path, description = "user id or username")),
    request_body = PasswordInput,
    responses((status = 204, description = "set; the user's grants are revoked and their sessions ended"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<PasswordInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let user = admin(&state).set_password(realm, p.get(1), &input.password).await?;
    audit::record(&state, &caller, "user.set_password", Some(realm), Some(&user.id)).await;
    Ok(no_content())
}

#[utoipa::path(post, path = "/admin/realms/{realm}/users/{user_id}/unlock", tag = "users", operation_id = "unlock_user",
    params(("realm" = String, Path), ("user_id" = String, Path, description = "user id or username")),
    responses((status = 200, description = "the sign-in failure counters of the account are cleared", body = Unlocked),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlock(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let (user, cleared) = admin(&state).unlock_user(realm, p.get(1)).await?;
    audit::record(&state, &caller, "user.unlock", Some(realm), Some(&user.id)).await;
    Ok(json(StatusCode::OK, &Unlocked { id: user.id, username: user.username, cleared_counters: cleared }))
}
