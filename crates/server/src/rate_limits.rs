//! Request-rate limits of the HTTP layer: per client address at the OAuth endpoints
//! that authenticate clients and at the admin API, and per admin token. Token buckets
//! in memory, per instance (`portcullis_core::rate_limit`); the per-client limit is
//! checked in `core`, after authentication, so no one can spend another client's
//! budget. Off unless configured.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portcullis_core::address::address_block;
use portcullis_core::error::OAuthError;
use portcullis_core::rate_limit::{Rate, RateLimiter, retry_after_secs};

use crate::extract::ClientAddr;
use crate::{ApiError, AppState};

/// The limiters, each `None` when its limit is off (the default).
#[derive(Debug, Default)]
pub struct RateLimits {
    /// Token, introspection, `check_token` and both revocation endpoints, per address.
    pub oauth_per_address: Option<RateLimiter>,
    /// The admin API, per address.
    pub admin_per_address: Option<RateLimiter>,
    /// The admin API, per admin token (after it authenticated).
    pub admin_per_token: Option<RateLimiter>,
}

impl RateLimits {
    pub fn new(
        oauth_per_address: Option<Rate>,
        admin_per_address: Option<Rate>,
        admin_per_token: Option<Rate>,
    ) -> Self {
        Self {
            oauth_per_address: oauth_per_address.map(RateLimiter::new),
            admin_per_address: admin_per_address.map(RateLimiter::new),
            admin_per_token: admin_per_token.map(RateLimiter::new),
        }
    }
}

/// One request from `key`'s bucket, or the 429 to answer.
pub fn take(limiter: &RateLimiter, key: impl std::hash::Hash, whose: &str) -> Result<(), OAuthError> {
    limiter.check(key).map_err(|wait| {
        OAuthError::too_many_requests(
            format!("too many requests from {whose}: the limit is {}; retry later", limiter.rate()),
            retry_after_secs(wait),
        )
    })
}

fn per_address(limiter: Option<&RateLimiter>, addr: Option<IpAddr>) -> Result<(), OAuthError> {
    match (limiter, addr) {
        (Some(l), Some(a)) => take(l, address_block(a), "this address"),
        _ => Ok(()),
    }
}

/// Before anything is parsed: a flood from one address costs one hash and one lock.
pub async fn oauth_per_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    match per_address(state.settings.rate_limits.oauth_per_address.as_ref(), addr) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError(e).into_response(),
    }
}

pub async fn admin_per_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    match per_address(state.settings.rate_limits.admin_per_address.as_ref(), addr) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError(e).into_response(),
    }
}
