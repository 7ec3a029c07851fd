//! `/admin/realms/{realm}/api-keys`: an app's API keys. A key is shown once, in the
//! answer that creates it; reads show its id and settings, never the key or its hash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::admin::{ApiKeyChange, ApiKeySpec};
use portcullis_core::org::ApiKey;
use portcullis_core::token::token_id_hex;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content};
use crate::AppState;

/// Messages of `core::admin` about a body field that names something missing or wrong.
const FIELDS: &[(&str, &str)] =
    &[("app '", "app"), ("permission '", "permissions"), ("scope:", "scope"), ("test:", "test")];

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// 32 hex digits.
    pub id: String,
    pub realm: String,
    pub app_id: String,
    pub name: String,
    /// Space-separated; the scope of the tokens issued through the key.
    pub scope: String,
    pub permissions: Vec<String>,
    pub test: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: token_id_hex(&k.id),
            realm: k.realm.clone(),
            app_id: k.app_id.clone(),
            name: k.name.clone(),
            scope: k.scope.clone(),
            permissions: k.permissions.clone(),
            test: k.test,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

page_of!(ApiKeyPage, ApiKeyView);

/// A key as created: the key appears here and nowhere else.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// Shown once: store it now.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// The app's id or name.
    pub app: String,
    /// Default `default`.
    pub name: Option<String>,
    /// Space-separated scope of the tokens issued through the key.
    pub scope: Option<String>,
    /// Existing permissions of the realm.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// A test key (its tokens are marked test).
    #[serde(default)]
    pub test: bool,
}

/// The fields of a key that may change; an absent one is left as it is. The key
/// itself, its app and its mode never change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyUpdate {
    pub name: Option<String>,
    /// Space-separated; empty for none. Bounds the scope of the customer tokens
    /// issued or refreshed through the key from now on.
    pub scope: Option<String>,
    /// Existing permissions of the realm: the key carries exactly these from now on.
    pub permissions: Option<Vec<String>>,
    /// The key's mode is part of the key (`pcak_test_`, `pcak_live_`): only the key's
    /// own value is accepted; another is 400.
    pub test: Option<bool>,
}

/// Filter of the key list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by hand from `QueryParams`; this type documents it.
pub struct ApiKeyFilter {
    /// Only this app's keys (id or name).
    app: Option<String>,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/api-keys", tag = "api-keys", operation_id = "list_api_keys",
    params(("realm" = String, Path), PageParams, ApiKeyFilter),
    responses((status = 200, body = ApiKeyPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let page = PageRequest::from_query(&q, &["app"])?;
    let app = q.one("app", &["limit", "after", "app"])?;
    let keys = admin(&state).api_keys(realm, app).await.map_err(|e| AdminApiError::with_fields(e, FIELDS))?;
    let (items, next) = page.page(keys, |k| token_id_hex(&k.id));
    Ok(json(StatusCode::OK, &ApiKeyPage { items: items.iter().map(ApiKeyView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/api-keys", tag = "api-keys", operation_id = "create_api_key",
    params(("realm" = String, Path)), request_body = ApiKeyInput,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<ApiKeyInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let spec = ApiKeySpec { name: input.name, scope: input.scope, permissions: input.permissions, test: input.test };
    let created = admin(&state)
        .create_api_key(realm, &input.app, &spec)
        .await
        .map_err(|e| AdminApiError::with_fields(e, FIELDS))?;
    let view = ApiKeyView::from(&created.key);
    audit::record(&state, &caller, "api_key.create", Some(realm), Some(&view.id)).await;
    Ok(json(StatusCode::CREATED, &ApiKeyCreated { api_key: view, key: created.secret }))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/api-keys/{key_id}", tag = "api-keys", operation_id = "get_api_key",
    params(("realm" = String, Path), ("key_id" = String, Path, description = "32 hex digits")),
    responses((status = 200, body = ApiKeyView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &ApiKeyView::from(&admin(&state).api_key(realm, p.get(1)).await?)))
}

#[utoipa::path(patch, path = "/admin/realms/{realm}/api-keys/{key_id}", tag = "api-keys",
    operation_id = "update_api_key",
    params(("realm" = String, Path), ("key_id" = String, Path, description = "32 hex digits")),
    request_body = ApiKeyUpdate,
    responses((status = 200, description = "in effect for the key's next use", body = ApiKeyView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the key is revoked", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<ApiKeyUpdate>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let change =
        ApiKeyChange { name: input.name, scope: input.scope, permissions: input.permissions, test: input.test };
    let key = admin(&state)
        .update_api_key(realm, p.get(1), &change)
        .await
        .map_err(|e| AdminApiError::with_fields(e, FIELDS))?;
    let view = ApiKeyView::from(&key);
    audit::record(&state, &caller, "api_key.update", Some(realm), Some(&view.id)).await;
    Ok(json(StatusCode::OK, &view))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/api-keys/{key_id}/revoke", tag = "api-keys",
    operation_id = "revoke_api_key",
    params(("realm" = String, Path), ("key_id" = String, Path, description = "32 hex digits")),
    responses((status = 204, description = "revoked with the customer tokens issued through it"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let key = admin(&state).revoke_api_key(realm, p.get(1)).await?;
    audit::record(&state, &caller, "api_key.revoke", Some(realm), Some(&token_id_hex(&key.id))).await;
    Ok(no_content())
}
