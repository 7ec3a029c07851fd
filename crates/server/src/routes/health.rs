//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::authority::store_failure;
use portcullis_core::error::{ErrorCode, OAuthError};
use portcullis_core::store::StoreError;

use crate::response::no_store_json;
use crate::{ApiError, AppState};

pub async fn healthz() -> Response {
    no_store_json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers and the store's writers run; otherwise 503 with
/// the reason, for the operator (a load balancer needs only the status).
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.authority.store.ping().await.map_err(|e| match e {
        StoreError::Unavailable(reason) => {
            OAuthError::new(ErrorCode::TemporarilyUnavailable, format!("not ready: {reason}"))
        }
        other => store_failure(other),
    })?;
    Ok(no_store_json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready", "database": state.authority.store.backend()}),
    ))
}
