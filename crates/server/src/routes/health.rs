//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use portcullis_core::authority::store_failure;

use crate::response::no_store_json;
use crate::{ApiError, AppState};

pub async fn healthz() -> Response {
    no_store_json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.authority.store.ping().await.map_err(store_failure)?;
    Ok(no_store_json(
        StatusCode::OK,
        &serde_json::json!({"status": "ready", "database": state.authority.store.backend()}),
    ))
}
