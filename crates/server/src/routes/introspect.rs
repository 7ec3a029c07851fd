//! `POST {issuer}/oauth/introspect` (RFC 7662).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::endpoint::introspect::introspect;

use crate::extract::{Authorization, ClientAddr, OAuthForm, RealmName};
use crate::response::no_store_json;
use crate::{ApiError, AppState};

pub async fn handle(
    State(state): State<AppState>,
    RealmName(realm): RealmName,
    auth: Authorization,
    ClientAddr(client_addr): ClientAddr,
    OAuthForm(params): OAuthForm,
) -> Result<Response, ApiError> {
    let response = introspect(&state.authority, &realm, auth.as_deref(), &params, client_addr).await?;
    Ok(no_store_json(StatusCode::OK, &response))
}
