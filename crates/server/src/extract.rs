//! Extractors whose failures are `invalid_request` with a description, so no
//! framework rejection ever reaches a client as a plain-text 4xx/5xx.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{Method, header, request::Parts};
use portcullis_core::error::{ErrorCode, OAuthError};
use portcullis_core::params::Params;
use portcullis_core::urlencoded::parse_form;

use crate::{ApiError, AppState};

/// The parameters of a POSTed `application/x-www-form-urlencoded` body.
/// Parameters in the URL query are refused: credentials and tokens never travel in
/// a URL (RFC 6750 §2.3, RFC 9700 §4.3).
pub struct OAuthForm(pub Params);

fn is_form_content_type(parts: &Parts) -> Result<(), OAuthError> {
    let mut values = parts.headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return Err(OAuthError::invalid_request(
            "send exactly one Content-Type header: application/x-www-form-urlencoded",
        ));
    };
    let essence = v.to_str().unwrap_or("").split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"))
    }
}

pub async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, OAuthError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        OAuthError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes"))
    })
}

impl FromRequest<AppState> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        if parts.method != Method::POST {
            return Err(OAuthError::new(ErrorCode::MethodNotAllowed, "this endpoint only accepts POST").into());
        }
        if parts.uri.query().is_some_and(|q| !q.is_empty()) {
            return Err(
                OAuthError::invalid_request("parameters must be sent in the request body, not in the URL").into()
            );
        }
        is_form_content_type(&parts)?;
        let bytes = read_body(body, state.settings.body_limit).await?;
        Ok(Self(parse_form(&bytes)?))
    }
}

/// The raw `Authorization` header, if exactly one was sent.
pub struct Authorization(pub Option<Vec<u8>>);

impl<S: Send + Sync> FromRequestParts<S> for Authorization {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(Self(None)),
            (Some(v), None) => Ok(Self(Some(v.as_bytes().to_vec()))),
            (Some(_), Some(_)) => Err(OAuthError::invalid_request("send at most one Authorization header").into()),
        }
    }
}

impl Authorization {
    pub fn as_deref(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }
}

/// The `{realm}` path segment. A segment that cannot even be decoded names no realm.
pub struct RealmName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RealmName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(name)) => Ok(Self(name)),
            Err(_) => Err(OAuthError::not_found("no such realm").into()),
        }
    }
}

/// The client's address for sign-in throttling: the peer set by the accept loop, or
/// what a trusted proxy forwarded for (`client_addr::resolve`); `None` in contexts
/// without a peer.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        Ok(Self(peer.map(|p| crate::client_addr::resolve(p, &parts.headers, &state.settings.trusted_proxies))))
    }
}
