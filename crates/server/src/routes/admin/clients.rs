//! `/admin/realms/{realm}/clients`: OAuth clients. A client secret is shown once, in
//! the answer that created (or rotated) it; no read shows it again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::admin::ClientSpec;
use portcullis_core::model::{AuthMethod, Client, GrantType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, no_content, parse_enum, parse_list};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub realm: String,
    pub name: String,
    /// No secret: authenticates with `none` (PKCE).
    pub public: bool,
    pub auth_method: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub default_scopes: Vec<String>,
    /// Seconds; null: the realm's.
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub resource_server: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.client_id.clone(),
            realm: c.realm.clone(),
            name: c.name.clone(),
            public: c.is_public(),
            auth_method: c.auth_method.as_str().to_owned(),
            grant_types: c.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
            redirect_uris: c.redirect_uris.clone(),
            scopes: c.scopes.clone(),
            default_scopes: c.default_scopes.clone(),
            access_ttl: c.access_ttl,
            refresh_ttl: c.refresh_ttl,
            resource_server: c.resource_server,
            disabled: c.disabled,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

page_of!(ClientPage, ClientView);

/// A client as created: its secret appears here and nowhere else.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    #[serde(flatten)]
    pub client: ClientView,
    /// Shown once; null for a public client.
    pub client_secret: Option<String>,
}

/// Client fields; an absent field keeps its current (or default) value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    pub name: Option<String>,
    /// RFC grant type names.
    pub grant_types: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub default_scopes: Option<Vec<String>>,
    /// Only at creation: a public client has no secret.
    pub public: Option<bool>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub auth_method: Option<String>,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub resource_server: Option<bool>,
    pub disabled: Option<bool>,
}

impl ClientInput {
    fn spec(&self) -> Result<ClientSpec, AdminApiError> {
        Ok(ClientSpec {
            name: self.name.clone(),
            grant_types: parse_list::<GrantType>("grant_types", self.grant_types.as_deref())?,
            redirect_uris: self.redirect_uris.clone(),
            scopes: self.scopes.clone(),
            default_scopes: self.default_scopes.clone(),
            public: self.public.unwrap_or(false),
            auth_method: parse_enum::<AuthMethod>("auth_method", self.auth_method.as_deref())?,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            resource_server: self.resource_server,
            disabled: self.disabled,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRotation {
    /// Keep the tokens issued so far (default: revoke them, as after a leak).
    pub keep_tokens: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretRotated {
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/clients", tag = "clients", operation_id = "list_clients",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, body = ClientPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
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
    let clients = state.authority.store.list_clients(realm).await?;
    let (items, next) = page.page(clients, |c| c.client_id.clone());
    Ok(json(StatusCode::OK, &ClientPage { items: items.iter().map(ClientView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/clients", tag = "clients", operation_id = "create_client",
    params(("realm" = String, Path)), request_body = ClientInput,
    responses((status = 201, body = ClientCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<ClientInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let (client, secret) = admin(&state).create_client(realm, &input.spec()?).await?;
    audit::record(&state, &caller, "client.create", Some(realm), Some(&client.client_id)).await;
    let created =
        ClientCreated { client: ClientView::from(&client), client_secret: secret.map(|s| s.expose().to_owned()) };
    Ok(json(StatusCode::CREATED, &created))
}

#[utoipa::path(get, path = "/admin/realms/{realm}/clients/{client_id}", tag = "clients", operation_id = "get_client",
    params(("realm" = String, Path), ("client_id" = String, Path, description = "client id or name")),
    responses((status = 200, body = ClientView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    Ok(json(StatusCode::OK, &ClientView::from(&admin(&state).client(realm, p.get(1)).await?)))
}

#[utoipa::path(patch, path = "/admin/realms/{realm}/clients/{client_id}", tag = "clients", operation_id = "update_client",
    params(("realm" = String, Path), ("client_id" = String, Path, description = "client id or name")),
    request_body = ClientInput,
    responses((status = 200, body = ClientView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<ClientInput>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    if input.public.is_some() {
        return Err(AdminApiError::invalid("public", "a client cannot change between public and confidential"));
    }
    let before = ClientView::from(&admin(&state).client(realm, p.get(1)).await?);
    let client = admin(&state).update_client(realm, p.get(1), &input.spec()?).await?;
    let after = ClientView::from(&client);
    audit::record_update(&state, &caller, "client.update", Some(realm), Some(&client.client_id), (&before, &after))
        .await;
    Ok(json(StatusCode::OK, &after))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}/clients/{client_id}", tag = "clients", operation_id = "delete_client",
    params(("realm" = String, Path), ("client_id" = String, Path, description = "client id or name")),
    responses((status = 204, description = "deleted with its tokens"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let client = admin(&state).client(realm, p.get(1)).await?;
    admin(&state).delete_client(realm, &client.client_id).await?;
    audit::record(&state, &caller, "client.delete", Some(realm), Some(&client.client_id)).await;
    Ok(no_content())
}

#[utoipa::path(post, path = "/admin/realms/{realm}/clients/{client_id}/secret", tag = "clients",
    operation_id = "rotate_client_secret",
    params(("realm" = String, Path), ("client_id" = String, Path, description = "client id or name")),
    request_body = SecretRotation,
    responses((status = 200, body = SecretRotated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<SecretRotation>,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let keep = input.keep_tokens.unwrap_or(false);
    let (client, secret) = admin(&state).rotate_client_secret(realm, p.get(1), keep).await?;
    audit::record(&state, &caller, "client.rotate_secret", Some(realm), Some(&client.client_id)).await;
    let out = SecretRotated { client_id: client.client_id, client_secret: secret.expose().to_owned() };
    Ok(json(StatusCode::OK, &out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientUnlocked {
    pub client_id: String,
    pub name: String,
    /// How many secret-failure counters were cleared.
    pub cleared_counters: u64,
}

#[utoipa::path(post, path = "/admin/realms/{realm}/clients/{client_id}/unlock", tag = "clients",
    operation_id = "unlock_client",
    params(("realm" = String, Path), ("client_id" = String, Path, description = "client id or name")),
    responses((status = 200, description = "the client's secret-failure counters are cleared, from every address",
        body = ClientUnlocked), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlock(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let (client, cleared) = admin(&state).unlock_client(realm, p.get(1)).await?;
    audit::record(&state, &caller, "client.unlock", Some(realm), Some(&client.client_id)).await;
    let out = ClientUnlocked { client_id: client.client_id, name: client.name, cleared_counters: cleared };
    Ok(json(StatusCode::OK, &out))
}
