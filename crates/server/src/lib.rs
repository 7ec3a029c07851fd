//! The Portcullis HTTP server: axum routes over the protocol logic in
//! `portcullis-core`. Only this crate knows HTTP.

mod audit_context;
mod client_addr;
mod envelope;
mod error;
mod extract;
/// The admin API fuzz target's check (`fuzz/`), replayed by this crate's tests.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod metrics;
mod pages;
mod rate_limits;
mod request_id;
mod response;
mod routes;
mod serve;
mod timeout;
mod tls;
mod url_secrets;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use portcullis_core::authority::Authority;

pub use client_addr::IpNet;
pub use error::ApiError;
pub use rate_limits::RateLimits;
pub use serve::{serve, serve_with};
pub use tls::Tls;

/// Settings of the HTTP layer, already validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted; larger ones get 413 before parsing.
    pub body_limit: usize,
    /// A request still running after this gets 408, unless a write of it is in flight:
    /// then it gets that write's outcome (`timeout.rs`).
    pub request_timeout: Duration,
    /// A connection that has not sent a complete request head by then is closed
    /// (slowloris).
    pub header_read_timeout: Duration,
    /// Peers whose `X-Forwarded-For` names the client (for sign-in throttling).
    pub trusted_proxies: Vec<IpNet>,
    /// Request-rate limits per address and per admin token (off by default).
    pub rate_limits: Arc<RateLimits>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            rate_limits: Arc::default(),
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub authority: Arc<Authority>,
    pub settings: Arc<HttpSettings>,
    /// Where requests are counted; `None`: metrics are off (`serve --metrics-addr`).
    pub metrics: Option<Arc<metrics::Metrics>>,
}

pub fn router(state: AppState) -> Router {
    routes::router(state)
}
