//! `/admin/realms/{realm}/keys`: signing keys (never their private parts) and rotation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::model::SigningKeyRecord;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, audit, json};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    /// When it stopped signing; null for the signing key.
    pub retired_at: Option<i64>,
    /// The first instant it no longer verifies.
    pub verify_until: Option<i64>,
}

impl From<&SigningKeyRecord> for KeyView {
    fn from(k: &SigningKeyRecord) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.as_str().to_owned(),
            created_at: k.created_at,
            retired_at: k.retired_at,
            verify_until: k.verify_until,
        }
    }
}

page_of!(KeyPage, KeyView);

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The new signing key.
    pub kid: String,
}

#[utoipa::path(get, path = "/admin/realms/{realm}/keys", tag = "keys", operation_id = "list_keys",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, description = "the keys that still verify", body = KeyPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    let keys = state.authority.store.signing_keys(realm, state.authority.now()).await?;
    let (items, next) = page.page(keys, |k| k.kid.clone());
    Ok(json(StatusCode::OK, &KeyPage { items: items.iter().map(KeyView::from).collect(), next }))
}

#[utoipa::path(post, path = "/admin/realms/{realm}/keys/rotate", tag = "keys", operation_id = "rotate_keys",
    params(("realm" = String, Path)),
    responses((status = 200, description = "a new signing key; the old ones verify until their tokens expire", body = Rotated),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate(State(state): State<AppState>, caller: Caller, p: PathParams) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let kid = admin(&state).rotate_keys(realm).await?;
    state.authority.forget_keys(realm);
    audit::record(&state, &caller, "keys.rotate", Some(realm), Some(&kid)).await;
    Ok(json(StatusCode::OK, &Rotated { kid }))
}
