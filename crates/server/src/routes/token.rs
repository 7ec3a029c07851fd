//! `POST {issuer}/oauth/token` (RFC 6749 §3.2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::endpoint::token::token;
use portcullis_core::grant::RequestContext;

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
    let request = RequestContext { client_addr };
    let response = token(&state.authority, &realm, auth.as_deref(), &params, &request).await?;
    Ok(no_store_json(StatusCode::OK, &response))
}
