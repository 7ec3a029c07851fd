//! Metadata (RFC 8414) and the JWK set.

use axum::extract::State;
use axum::response::Response;
use portcullis_core::endpoint::metadata;

use crate::extract::RealmName;
use crate::response::public_json;
use crate::{ApiError, AppState};

pub async fn metadata(State(state): State<AppState>, RealmName(realm): RealmName) -> Result<Response, ApiError> {
    Ok(public_json(&metadata::metadata(&state.authority, &realm).await?, 300))
}

/// Cached briefly, so a key rotation reaches resource servers within a minute.
pub async fn jwks(State(state): State<AppState>, RealmName(realm): RealmName) -> Result<Response, ApiError> {
    Ok(public_json(&metadata::jwks(&state.authority, &realm).await?, 60))
}
