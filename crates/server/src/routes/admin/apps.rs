//! `/admin/realms/{realm}/apps`: apps (a customer-facing product and its client), and
//! the action reset (every key of the app and every token issued through one revoked).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::org::App;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// Also the id of the app's client.
    pub app_id: String,
    pub realm: String,
    pub name: String,
    pub created_at: i64,
    /// When the app was last reset; null if never.
    pub reset_at: Option<i64>,
}

impl From<&App> for AppView {
    fn from(a: &App) -> Self {
        Self {
            app_id: a.app_id.clone(),
            realm: a.realm.clone(),
            name: a.name.clone(),
            created_at: a.created_at,
            reset_at: a.reset_at,
        }
    }
}

page_of!(AppPage, AppView);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    /// 1 to 255 bytes, unique among the realm's apps and clients.
    pub name: String,
}

/// The fields of an app that may change; an absent one is left as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    /// 1 to 255 bytes, unique among the realm's apps and clients.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppReset {
    pub app_id: String,
    /// How many of the app's keys were live and are now revoked.
    pub revoked_keys: u64,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/apps", tag = "apps", operation_id = "list_apps",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, body = AppPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
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
    let (items, next) = page.page(admin(&state).apps(realm).await?, |a| a.app_id.clone());
    Ok(json(StatusCode::OK, &AppPage { items: items.iter().map(AppView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/apps", tag = "apps", operation_id = "create_app",
    params(("realm" = String, Path)), request_body = AppInput,
    responses((status = 201, body = AppView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<AppInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let app = admin(&state).create_app(realm, &input.name).await?;
    audit::record(&state, &caller, "app.create", Some(realm), Some(&app.app_id)).await;
    Ok(json(StatusCode::CREATED, &AppView::from(&app)))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/apps/{app}", tag = "apps", operation_id = "get_app",
    params(("realm" = String, Path), ("app" = String, Path, description = "app id or name")),
    responses((status = 200, body = AppView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &AppView::from(&admin(&state).app(realm, p.get(1)).await?)))
}

#[utoipa::path(patch, path = "/admin/realms/{realm}/apps/{app}", tag = "apps", operation_id = "update_app",
    params(("realm" = String, Path), ("app" = String, Path, description = "app id or name")),
    request_body = AppUpdate,
    responses((status = 200, body = AppView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<AppUpdate>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let app = match &input.name {
        Some(name) => admin(&state).update_app(realm, p.get(1), name).await?,
        // Nothing to change: the app as it is (and 404 if it is not).
        None => admin(&state).app(realm, p.get(1)).await?,
    };
    if input.name.is_some() {
        audit::record(&state, &caller, "app.update", Some(realm), Some(&app.app_id)).await;
    }
    Ok(json(StatusCode::OK, &AppView::from(&app)))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}/apps/{app}", tag = "apps", operation_id = "delete_app",
    params(("realm" = String, Path), ("app" = String, Path, description = "app id or name")),
    responses((status = 204, description = "deleted with its client, keys and their tokens"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let app = admin(&state).app(realm, p.get(1)).await?;
    admin(&state).delete_app(realm, &app.app_id).await?;
    audit::record(&state, &caller, "app.delete", Some(realm), Some(&app.app_id)).await;
    Ok(no_content())
}

#[utoipa::path(post, path = "/admin/realms/{realm}/apps/{app}/reset", tag = "apps", operation_id = "reset_app",
    params(("realm" = String, Path), ("app" = String, Path, description = "app id or name")),
    responses((status = 200, description = "every key of the app and every token issued through one revoked",
        body = AppReset), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let (app, revoked_keys) = admin(&state).reset_app(realm, p.get(1)).await?;
    audit::record(&state, &caller, "app.reset", Some(realm), Some(&app.app_id)).await;
    Ok(json(StatusCode::OK, &AppReset { app_id: app.app_id, revoked_keys }))
}
