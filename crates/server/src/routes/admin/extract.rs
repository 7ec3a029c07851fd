//! The admin API's extractors. Each failure is an [`AdminApiError`] (a 400 naming the
//! field where one is at fault), never a framework rejection.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts};
use portcullis_core::admin_token::{self, AdminTokenRecord};
use serde::de::DeserializeOwned;

use super::error::AdminApiError;
use crate::AppState;
use crate::extract::read_body;

/// The admin token the request carries, authenticated, and the request's id.
pub struct Caller {
    pub token: AdminTokenRecord,
    pub request_id: Option<String>,
}

impl Caller {
    /// Another realm's objects do not exist for a realm-scoped token: the answer is
    /// the same 404 as for a realm that does not exist.
    pub fn realm(&self, realm: &str) -> Result<(), AdminApiError> {
        if self.token.covers(realm) {
            Ok(())
        } else {
            Err(AdminApiError::not_found(format!("realm '{realm}' does not exist")))
        }
    }

    pub fn every_realm(&self, what: &str) -> Result<(), AdminApiError> {
        if self.token.realm.is_none() { Ok(()) } else { Err(AdminApiError::needs_every_realm(what)) }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AdminApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminApiError> {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let header = match (values.next(), values.next()) {
            (Some(_), Some(_)) => return Err(AdminApiError::bad_request("send at most one Authorization header")),
            (v, _) => v.map(|v| v.as_bytes()),
        };
        let token = admin_token::authenticate(state.authority.store.as_ref(), header).await?;
        if let Some(limiter) = &state.settings.rate_limits.admin_per_token {
            crate::rate_limits::take(limiter, token.id, "this admin token").map_err(AdminApiError::rate_limited)?;
        }
        let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Self { token, request_id })
    }
}

/// The path's parameters, in order.
pub struct PathParams(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = AdminApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminApiError> {
        Path::<Vec<String>>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|_| AdminApiError::not_found("no such object: a path segment is not valid UTF-8"))
    }
}

impl PathParams {
    pub fn get(&self, i: usize) -> &str {
        self.0.get(i).map_or("", String::as_str)
    }
}

/// The URL query's parameters; each may appear once, and only the ones the route
/// names are accepted.
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = AdminApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AdminApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(Self)
            .map_err(|e| AdminApiError::bad_request(format!("the query string cannot be decoded: {e}")))
    }
}

impl QueryParams {
    /// The value of `name`, refusing a parameter outside `allowed` or given twice.
    pub fn one(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, AdminApiError> {
        if let Some((unknown, _)) = self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            let shown: String = unknown.chars().take(64).collect();
            return Err(AdminApiError::invalid(
                &shown,
                format!("unknown query parameter; expected {}", allowed.join(", ")),
            ));
        }
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (_, Some(_)) => Err(AdminApiError::invalid(name, "given more than once")),
            (v, None) => Ok(v.map(|(_, v)| v.as_str())),
        }
    }
}

/// A JSON body. A failure names the field it happened at (`roles[2]`, `name`).
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AdminJson<T> {
    type Rejection = AdminApiError;

    // Only the deserialisation is generic: the body's checks and the error mapping are
    // one function each, not a copy per body type.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, AdminApiError> {
        let bytes = json_body(req, state).await?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(refusal_of)?;
        de.end().map_err(|e| AdminApiError::bad_request(format!("the body is not the JSON expected: {e}")))?;
        Ok(Self(value))
    }
}

/// The body of a JSON request, within the body limit.
async fn json_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, AdminApiError> {
    let (parts, body) = req.into_parts();
    let essence = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    let bytes = read_body(body, state.settings.body_limit)
        .await
        .map_err(|e| AdminApiError::payload_too_large(e.description().to_owned()))?;
    // No body at all reads as `{}`: actions whose fields are all optional
    // (`POST .../secret`) work without one, and a missing required field is named.
    if bytes.is_empty() && essence.is_empty() {
        Ok(axum::body::Bytes::from_static(b"{}"))
    } else if essence.eq_ignore_ascii_case("application/json") {
        Ok(bytes)
    } else {
        Err(AdminApiError::bad_request("the body must be application/json"))
    }
}

/// Why a JSON body did not deserialise, naming the field where serde could.
fn refusal_of(e: serde_path_to_error::Error<serde_json::Error>) -> AdminApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if path == "." || inner.is_syntax() || inner.is_eof() {
        // A missing field is reported at the object that lacks it.
        let message = inner.to_string();
        match named_field(&message) {
            Some(f) => AdminApiError::invalid(f, message.clone()),
            None => AdminApiError::bad_request(format!("the body is not the JSON expected: {message}")),
        }
    } else {
        AdminApiError::invalid(&path, inner.to_string())
    }
}

/// The field serde names in "missing field `x`" or "unknown field `x`, expected ...".
fn named_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `").or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}
