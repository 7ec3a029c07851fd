//! Response helpers shared by the routes.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1
/// requires of every response that carries tokens or secrets.
pub fn no_store_json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(_) => br#"{"error":"server_error","error_description":"response encoding failed"}"#.to_vec(),
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// Plain JSON for public, cacheable documents (metadata, JWKS).
pub fn public_json<T: Serialize>(body: &T, max_age: u32) -> Response {
    let mut r = no_store_json(StatusCode::OK, body);
    let h = r.headers_mut();
    h.remove(header::PRAGMA);
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    r
}
