//! The admin REST API under `/admin/`: one module per resource, each a thin adapter
//! over `portcullis_core::admin` (the validated operations the CLI runs too).
//! Authenticated by an admin token (`extract::Caller`); every change goes through the
//! audit hook (`audit::record`); described by the OpenAPI 3.1 document built from the
//! handlers' annotations ([`ApiDoc`]), served at `/admin/openapi.json`.
//! The organization model (`core::org`) has a module each too: apps, API keys,
//! permissions, roles and teams.

mod api_keys;
mod apps;
mod audit;
mod audit_events;
mod clients;
mod error;
mod extract;
mod grants;
mod keys;
mod page;
mod permissions;
mod realms;
mod roles;
mod teams;
mod users;

use std::str::FromStr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portcullis_core::admin::Admin;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::response::no_store_json;
use error::AdminApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis admin API",
        description = "Administration of realms, signing keys, clients, accounts, grants, apps, API keys, \
            permissions, roles and teams, and the audit log. \
            Authenticate with `Authorization: Bearer ADMIN_TOKEN` (`portcullis admin-token create`). \
            Errors are `{\"error\", \"error_description\", \"fields\"}`; `fields` names each request \
            field that was wrong. Lists are pages in a stable order: pass a page's `next` as `after`."
    ),
    paths(
        realms::list, realms::create, realms::get, realms::update, realms::delete,
        keys::list, keys::rotate,
        clients::list, clients::create, clients::get, clients::update, clients::delete, clients::rotate_secret,
        clients::unlock,
        users::list, users::create, users::get, users::update, users::delete, users::set_password, users::unlock,
        grants::list, grants::get, grants::revoke,
        apps::list, apps::create, apps::get, apps::update, apps::delete, apps::reset,
        api_keys::list, api_keys::create, api_keys::get, api_keys::update, api_keys::revoke,
        permissions::list, permissions::create, permissions::get, permissions::delete,
        roles::list, roles::get, roles::set, roles::delete,
        teams::list,
        audit_events::list, audit_events::list_server,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth),
    security(("admin_token" = [])),
    tags(
        (name = "realms"), (name = "keys", description = "signing keys"), (name = "clients"),
        (name = "users", description = "accounts"), (name = "grants"),
        (name = "apps"), (name = "api-keys", description = "apps' API keys"), (name = "permissions"),
        (name = "roles", description = "the permissions each role carries"),
        (name = "teams", description = "the teams accounts belong to"),
        (name = "audit", description = "the audit log: security events and admin changes"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served: built once.
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"))
}

async fn openapi() -> Response {
    let mut r = Response::new(Body::from(openapi_json()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn router() -> Router<AppState> {
    let realm = "/realms/{realm}";
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/realms", get(realms::list).post(realms::create))
        .route(realm, get(realms::get).patch(realms::update).delete(realms::delete))
        .route(&format!("{realm}/keys"), get(keys::list))
        .route(&format!("{realm}/keys/rotate"), post(keys::rotate))
        .route(&format!("{realm}/clients"), get(clients::list).post(clients::create))
        .route(
            &format!("{realm}/clients/{{client_id}}"),
            get(clients::get).patch(clients::update).delete(clients::delete),
        )
        .route(&format!("{realm}/clients/{{client_id}}/secret"), post(clients::rotate_secret))
        .route(&format!("{realm}/clients/{{client_id}}/unlock"), post(clients::unlock))
        .route(&format!("{realm}/users"), get(users::list).post(users::create))
        .route(&format!("{realm}/users/{{user_id}}"), get(users::get).patch(users::update).delete(users::delete))
        .route(&format!("{realm}/users/{{user_id}}/password"), post(users::set_password))
        .route(&format!("{realm}/users/{{user_id}}/unlock"), post(users::unlock))
        .route(&format!("{realm}/grants"), get(grants::list))
        .route(&format!("{realm}/grants/{{grant_id}}"), get(grants::get))
        .route(&format!("{realm}/grants/{{grant_id}}/revoke"), post(grants::revoke))
        .route(&format!("{realm}/apps"), get(apps::list).post(apps::create))
        .route(&format!("{realm}/apps/{{app}}"), get(apps::get).patch(apps::update).delete(apps::delete))
        .route(&format!("{realm}/apps/{{app}}/reset"), post(apps::reset))
        .route(&format!("{realm}/api-keys"), get(api_keys::list).post(api_keys::create))
        .route(&format!("{realm}/api-keys/{{key_id}}"), get(api_keys::get).patch(api_keys::update))
        .route(&format!("{realm}/api-keys/{{key_id}}/revoke"), post(api_keys::revoke))
        .route(&format!("{realm}/permissions"), get(permissions::list).post(permissions::create))
        .route(&format!("{realm}/permissions/{{name}}"), get(permissions::get).delete(permissions::delete))
        .route(&format!("{realm}/roles"), get(roles::list))
        .route(&format!("{realm}/roles/{{role}}"), get(roles::get).put(roles::set).delete(roles::delete))
        .route(&format!("{realm}/teams"), get(teams::list))
        .route(&format!("{realm}/audit"), get(audit_events::list))
        .route("/audit", get(audit_events::list_server))
        .method_not_allowed_fallback(|| async { AdminApiError::method_not_allowed() })
}

fn admin(state: &AppState) -> Admin<'_> {
    Admin::new(state.authority.store.as_ref(), state.authority.clock.as_ref())
}

/// Every admin answer is `no-store`: some carry secrets, and none should be cached.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    no_store_json(status, body)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn parse_enum<T: FromStr<Err = String>>(field: &str, value: Option<&str>) -> Result<Option<T>, AdminApiError> {
    value.map(|v| v.parse::<T>().map_err(|e| AdminApiError::invalid(field, e))).transpose()
}

fn parse_list<T: FromStr<Err = String>>(
    field: &str,
    values: Option<&[String]>,
) -> Result<Option<Vec<T>>, AdminApiError> {
    values
        .map(|vs| {
            vs.iter()
                .enumerate()
                .map(|(i, v)| v.parse::<T>().map_err(|e| AdminApiError::invalid(&format!("{field}[{i}]"), e)))
                .collect()
        })
        .transpose()
}

/// `"field": null` (`Some(None)`) apart from an absent field (`None`).
fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
