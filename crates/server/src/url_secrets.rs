//! Client secrets never travel in a URL: RFC 6749 §2.3.1 says client credentials
//! "MUST NOT be included in the request URI", where proxies, logs and browser
//! history keep them. A request whose query string names `client_secret` is refused
//! on every endpoint, before any handler runs, so nothing it asks for happens.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use portcullis_core::error::OAuthError;
use portcullis_core::urlencoded::decode_component;

use crate::ApiError;

/// The refusal of `req`, when its query string names `client_secret`.
pub fn refusal(req: &Request) -> Option<Response> {
    if !req.uri().query().is_some_and(names_client_secret) {
        return None;
    }
    let e = OAuthError::invalid_request(
        "client_secret must never be sent in the URL: use the Authorization header (or the form body where the \
         endpoint allows it)",
    );
    Some(ApiError(e).into_response())
}

/// Whether a parameter of `query` is named `client_secret`, however it is escaped.
/// Names that do not decode are left to the endpoint, which refuses them anyway.
fn names_client_secret(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        decode_component(name).is_ok_and(|name| name == "client_secret")
    })
}

#[cfg(test)]
mod tests {
    use super::names_client_secret;

    #[test]
    fn client_secret_is_found_however_it_is_escaped() {
        for q in ["client_secret=s", "a=1&client_secret", "x=&client%5Fsecret=s", "client%5fsecret=", "client_secret"] {
            assert!(names_client_secret(q), "{q}");
        }
        for q in ["", "client_id=a", "token=client_secret", "client_secrets=1", "client_secret%=1"] {
            assert!(!names_client_secret(q), "{q}");
        }
    }
}
