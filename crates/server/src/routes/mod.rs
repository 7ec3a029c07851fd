//! Routes, one module per endpoint, and the middleware stack around them.

mod admin;
mod authorize;
mod check_token;
mod health;
mod introspect;
mod metadata;
mod revoke;
mod revoke_token;
mod token;

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::Request;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use portcullis_core::error::{ErrorCode, OAuthError};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::envelope::Envelope;
use crate::{ApiError, AppState, rate_limits};

/// A POST-only endpoint whose other methods get a JSON 405.
fn post_only<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(|| async {
        ApiError(OAuthError::new(ErrorCode::MethodNotAllowed, "this endpoint only accepts POST"))
    })
}

pub fn router(state: AppState) -> Router {
    let envelope = Arc::new(Envelope { settings: state.settings.clone(), metrics: state.metrics.clone() });
    let limits = state.settings.rate_limits.clone();
    // The endpoints that authenticate clients, under the per-address request limit
    // (a layer only when the limit is on: it costs every request otherwise).
    let mut client_endpoints = Router::new()
        .route("/oauth/token", post_only(token::handle))
        .route("/oauth/introspect", post_only(introspect::handle))
        .route("/oauth/revoke", post_only(revoke::handle))
        .route("/oauth/check_token", post_only(check_token::handle))
        .route("/oauth/revoke_token", post_only(revoke_token::handle));
    if limits.oauth_per_address.is_some() {
        client_endpoints =
            client_endpoints.route_layer(from_fn_with_state(state.clone(), rate_limits::oauth_per_address));
    }
    let mut admin = admin::router();
    if limits.admin_per_address.is_some() {
        admin = admin.route_layer(from_fn_with_state(state.clone(), rate_limits::admin_per_address));
    }
    let realm = Router::new()
        .route("/oauth/authorize", get(authorize::authorize).post(authorize::authorize))
        .route("/oauth/authorize/login", post_only(authorize::login))
        .route("/oauth/authorize/consent", get(authorize::consent_page).post(authorize::consent))
        .merge(client_endpoints)
        .route("/jwks.json", get(metadata::jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata::metadata));
    Router::new()
        .nest("/realms/{realm}", realm)
        .nest("/admin", admin)
        .route("/.well-known/oauth-authorization-server/realms/{realm}", get(metadata::metadata))
        .route("/assets/portcullis.css", get(authorize::stylesheet))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async { ApiError(OAuthError::not_found("no such endpoint")) })
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(envelope, crate::envelope::envelope))
        .layer(
            // The span names the path only: a query string may carry a token
            // (Spring's revoke_token), and nothing secret reaches a log.
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                // The route template, for traces grouped by endpoint (this layer runs
                // after routing, so axum has matched it).
                let route = req.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
                // Recorded by `Display` (`%`): the log formatter writes a `&str` field
                // through `Debug`, escaping it char by char, and it formats every
                // request's span whether or not a line is logged in it. None of these
                // can hold a character that needs escaping: the `http` crate refuses
                // control characters in a path, and `to_str` any outside visible ASCII.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), route = %route, request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(crate::request_id::MakeSequentialRequestId::default()))
}

/// A handler that panics answers 500 `server_error` as JSON; the server keeps running.
fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError(OAuthError::server_error("handler panicked")).into_response()
}
