//! The one place where errors become HTTP responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::error::{ErrorCode, OAuthError};
use portcullis_proto::ErrorResponse;

use crate::response::no_store_json;

/// An [`OAuthError`] on its way out: JSON `{"error","error_description"}` with the
/// RFC's status, `WWW-Authenticate` on 401, `Retry-After` on 429 and 503, and the cause of
/// a server-side failure logged, never sent.
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        match e.code {
            ErrorCode::ServerError => tracing::error!(error = ?e.source, "request failed"),
            ErrorCode::TemporarilyUnavailable => tracing::warn!(error = ?e.source, "database unavailable"),
            _ => tracing::debug!(code = e.code.as_str(), description = e.description(), "request refused"),
        }
        let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body =
            ErrorResponse { error: e.code.as_str().to_owned(), error_description: Some(e.description().to_owned()) };
        let mut response = no_store_json(status, &body);
        let headers = response.headers_mut();
        match e.code {
            ErrorCode::InvalidClient => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portcullis\""));
            }
            ErrorCode::TemporarilyUnavailable | ErrorCode::TooManyRequests => {
                let secs = e.retry_after().unwrap_or(5);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            ErrorCode::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        response
    }
}
