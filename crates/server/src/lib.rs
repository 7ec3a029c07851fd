//! The Portcullis HTTP server: axum routes over the protocol logic in
//! `portcullis-core`. Only this crate knows HTTP.

mod error;
mod extract;
mod response;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use portcullis_core::authority::Authority;
use tokio::net::TcpListener;

pub use error::ApiError;

/// Settings of the HTTP layer, already validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted; larger ones get 413 before parsing.
    pub body_limit: usize,
    /// A request still running after this gets 408.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { body_limit: 64 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub authority: Arc<Authority>,
    pub settings: Arc<HttpSettings>,
}

pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
