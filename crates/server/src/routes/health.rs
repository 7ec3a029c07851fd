//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::error::{ErrorCode, OAuthError, store_failure};
use portcullis_core::store::StoreError;

use crate::response::no_store_json;
use crate::{ApiError, AppState};

pub async fn healthz() -> Response {
    no_store_json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers and the store's writers run; otherwise 503 with
/// which of the two failed. The database's own message (which may name hosts and
/// users) goes to the log, not to this public endpoint.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.authority.store.ping().await.map_err(|e| match e {
        StoreError::Unavailable(reason) => {
            tracing::warn!(reason, "not ready");
            let what = if reason.contains("writer") {
                "not ready: the database writer has stopped"
            } else {
                "not ready: the database cannot be reached"
            };
            OAuthError::new(ErrorCode::TemporarilyUnavailable, what)
        }
        other => store_failure(other),
    })?;
    Ok(no_store_json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready", "database": state.authority.store.backend()}),
    ))
}
