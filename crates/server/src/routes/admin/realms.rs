//! `/admin/realms`: realms and their settings.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::admin::RealmSettings;
use portcullis_core::model::{Realm, RefreshPolicy, SigningAlg, TokenFormat};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{AdminJson, Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json, parse_enum};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RealmView {
    pub name: String,
    /// Access-token lifetime, seconds.
    pub access_ttl: i64,
    /// Refresh-token lifetime, seconds; null: refresh tokens never expire.
    pub refresh_ttl: Option<i64>,
    /// `opaque` or `jwt`.
    pub token_format: String,
    pub signing_alg: String,
    /// `rotate` or `reuse`.
    pub refresh_policy: String,
    pub refresh_grace: i64,
    pub allow_implicit: bool,
    pub require_pkce: bool,
    pub allow_plain_pkce: bool,
    pub code_ttl: i64,
    /// Lifetime of customer tokens (signed in through an app's API key), seconds.
    pub customer_ttl: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Realm> for RealmView {
    fn from(r: &Realm) -> Self {
        Self {
            name: r.name.clone(),
            access_ttl: r.access_ttl,
            refresh_ttl: r.refresh_ttl,
            token_format: r.token_format.as_str().to_owned(),
            signing_alg: r.signing_alg.as_str().to_owned(),
            refresh_policy: r.refresh_policy.as_str().to_owned(),
            refresh_grace: r.refresh_grace,
            allow_implicit: r.allow_implicit,
            require_pkce: r.require_pkce,
            allow_plain_pkce: r.allow_plain_pkce,
            code_ttl: r.code_ttl,
            customer_ttl: r.customer_ttl,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

page_of!(RealmPage, RealmView);

/// Declares a realm input type: `name` (when given) and every setting, each optional.
/// Spelled out rather than `#[serde(flatten)]`, which would hide the path of a
/// wrong field from the error.
macro_rules! realm_input {
    ($(#[$m:meta])* $name:ident { $($head:tt)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($head)*
            /// Access-token lifetime, seconds.
            #[schema(minimum = 1)]
            pub access_ttl: Option<i64>,
            /// Seconds; null: refresh tokens never expire.
            #[serde(default, deserialize_with = "super::double_option")]
            #[schema(value_type = Option<i64>)]
            pub refresh_ttl: Option<Option<i64>>,
            /// `opaque` or `jwt`.
            pub token_format: Option<String>,
            /// `ES256`, `RS256`, `EdDSA`, `HS256` or `HS512`; a change rotates the signing key.
            pub signing_alg: Option<String>,
            /// `rotate` or `reuse`.
            pub refresh_policy: Option<String>,
            pub refresh_grace: Option<i64>,
            pub allow_implicit: Option<bool>,
            pub require_pkce: Option<bool>,
            pub allow_plain_pkce: Option<bool>,
            pub code_ttl: Option<i64>,
            /// Customer-token lifetime, seconds.
            #[schema(minimum = 1)]
            pub customer_ttl: Option<i64>,
        }

        impl $name {
            fn settings(&self) -> Result<RealmSettings, AdminApiError> {
                Ok(RealmSettings {
                    access_ttl: self.access_ttl,
                    refresh_ttl: self.refresh_ttl,
                    token_format: parse_enum::<TokenFormat>("token_format", self.token_format.as_deref())?,
                    signing_alg: parse_enum::<SigningAlg>("signing_alg", self.signing_alg.as_deref())?,
                    refresh_policy: parse_enum::<RefreshPolicy>("refresh_policy", self.refresh_policy.as_deref())?,
                    refresh_grace: self.refresh_grace,
                    allow_implicit: self.allow_implicit,
                    require_pkce: self.require_pkce,
                    allow_plain_pkce: self.allow_plain_pkce,
                    code_ttl: self.code_ttl,
                    customer_ttl: self.customer_ttl,
                })
            }
        }
    };
}

realm_input!(
    /// Realm settings; an absent field keeps its current value.
    RealmSettingsInput {}
);

realm_input!(
    /// A new realm; an absent setting takes its default.
    RealmCreate {
        /// 1 to 63 lowercase letters, digits or '-'.
        pub name: String,
    }
);

#[utoipa::path(get, path = "/admin/realms", tag = "realms", operation_id = "list_realms",
    params(PageParams),
    responses((status = 200, body = RealmPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "the admin token is scoped to one realm", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller, q: QueryParams) -> Result<Response, AdminApiError> {
    caller.every_realm("listing realms")?;
    let page = PageRequest::from_query(&q, &[])?;
    let realms = state.authority.store.list_realms().await?;
    let (items, next) = page.page(realms, |r| r.name.clone());
    Ok(json(StatusCode::OK, &RealmPage { items: items.iter().map(RealmView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms", tag = "realms", operation_id = "create_realm",
    request_body = RealmCreate,
    responses((status = 201, body = RealmView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AdminJson(input): AdminJson<RealmCreate>,
) -> Result<Response, AdminApiError> {
    caller.every_realm("creating realms")?;
    let realm = admin(&state).create_realm(&input.name, &input.settings()?).await?;
    audit::record(&state, &caller, "realm.create", Some(&realm.name), Some(&realm.name)).await;
    Ok(json(StatusCode::CREATED, &RealmView::from(&realm)))
}

#[utoipa::path(get, path = "/admin/realms/{realm}", tag = "realms", operation_id = "get_realm",
    params(("realm" = String, Path)),
    responses((status = 200, body = RealmView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let name = p.get(0);
    caller.realm(name)?;
    Ok(json(StatusCode::OK, &RealmView::from(&admin(&state).realm(name).await?)))
}

#[utoipa::path(patch, path = "/admin/realms/{realm}", tag = "realms", operation_id = "update_realm",
    params(("realm" = String, Path)), request_body = RealmSettingsInput,
    responses((status = 200, body = RealmView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    AdminJson(input): AdminJson<RealmSettingsInput>,
) -> Result<Response, AdminApiError> {
    let name = p.get(0);
    caller.realm(name)?;
    let before = RealmView::from(&admin(&state).realm(name).await?);
    let realm = admin(&state).update_realm(name, &input.settings()?).await?;
    let after = RealmView::from(&realm);
    audit::record_update(&state, &caller, "realm.update", Some(name), Some(name), (&before, &after)).await;
    Ok(json(StatusCode::OK, &after))
}

#[utoipa::path(delete, path = "/admin/realms/{realm}", tag = "realms", operation_id = "delete_realm",
    params(("realm" = String, Path)),
    responses((status = 204, description = "deleted with everything in it"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let name = p.get(0);
    caller.realm(name)?;
    caller.every_realm("deleting a realm")?;
    admin(&state).delete_realm(name).await?;
    state.authority.forget_keys(name);
    audit::record(&state, &caller, "realm.delete", Some(name), Some(name)).await;
    Ok(super::no_content())
}
