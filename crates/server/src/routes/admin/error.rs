//! The admin API's errors: `{"error", "error_description", "fields"}`, where `fields`
//! names each request field that was wrong. They render here, beside the admin routes,
//! because only the admin API has field-level errors; the codes and the 401 challenge
//! follow RFC 6749 §5.2 and RFC 6750 §3 like `crate::error`.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::admin::AdminError;
use portcullis_core::admin_token::{AdminAuthError, AdminTokenRefusal};
use portcullis_core::error::{ErrorCode, OAuthError, store_failure};
use portcullis_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::response::no_store_json;

/// The body of every admin API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, `not_found`,
    /// `conflict`, `temporarily_unavailable` or `server_error`.
    pub error: String,
    pub error_description: String,
    /// For `invalid_request`: what was wrong with each named request field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

pub struct AdminApiError {
    status: StatusCode,
    body: ErrorBody,
    challenge: Option<String>,
    retry_after: Option<u64>,
}

impl AdminApiError {
    fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        let body =
            ErrorBody { error: error.to_owned(), error_description: sanitized(description), fields: BTreeMap::new() };
        Self { status, body, challenge: None, retry_after: None }
    }

    /// 400 naming the field that was wrong.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let description = sanitized(description);
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request", description.clone());
        e.body.fields.insert(sanitized(field), description);
        e
    }

    /// 400 about the request as a whole (its body is not JSON, a header is wrong).
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    /// 403: the admin token is valid but scoped to one realm (RFC 6750 §3.1).
    pub fn needs_every_realm(what: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("{what} needs an admin token for every realm; this one is scoped to a realm"),
        );
        e.challenge = Some(r#"Bearer realm="portcullis-admin", error="insufficient_scope""#.to_owned());
        e
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "this method is not allowed on this path")
    }

    /// 429 from a request-rate limit, with `Retry-After`.
    pub fn rate_limited(e: OAuthError) -> Self {
        let mut r = Self::new(StatusCode::TOO_MANY_REQUESTS, e.code.as_str(), e.description());
        r.retry_after = e.retry_after();
        r
    }

    pub fn payload_too_large(description: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", description)
    }

    /// 401 with a description per cause. With no credentials at all the challenge
    /// carries no error code (RFC 6750 §3.1); the body always does.
    pub fn refused(r: AdminTokenRefusal) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", r.description());
        e.challenge = Some(match r {
            AdminTokenRefusal::Missing => r#"Bearer realm="portcullis-admin""#.to_owned(),
            _ => format!(
                r#"Bearer realm="portcullis-admin", error="invalid_token", error_description="{}""#,
                r.description()
            ),
        });
        e
    }

    pub fn store(e: StoreError) -> Self {
        let o = store_failure(e);
        tracing::error!(error = ?o.source, "admin request failed");
        let status = StatusCode::from_u16(o.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, o.code.as_str(), o.description())
    }
}

impl From<AdminAuthError> for AdminApiError {
    fn from(e: AdminAuthError) -> Self {
        match e {
            AdminAuthError::Refused(r) => Self::refused(r),
            AdminAuthError::Store(s) => Self::store(s),
        }
    }
}

impl From<StoreError> for AdminApiError {
    fn from(e: StoreError) -> Self {
        Self::store(e)
    }
}

/// The shared operations (`core::admin`) speak in the CLI's flags (`--access-ttl`); the
/// API names the body field instead.
impl From<AdminError> for AdminApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => {
                let m = m.replace("--", "");
                Self::invalid(field_of(&m), m)
            }
            AdminError::NotFound(m) => Self::not_found(m),
            AdminError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            AdminError::Store(s) => Self::store(s),
        }
    }
}

impl AdminApiError {
    /// Like `From<AdminError>`, but a message starting with one of `fields`' prefixes is
    /// a 400 naming that field: a body's reference to an object that does not exist
    /// (`permissions` naming an unknown permission) is the request's fault, not a
    /// missing resource.
    pub fn with_fields(e: AdminError, fields: &[(&str, &str)]) -> Self {
        let message = match &e {
            AdminError::Invalid(m) | AdminError::NotFound(m) => m.replace("--", ""),
            _ => return e.into(),
        };
        match fields.iter().find(|(prefix, _)| message.starts_with(prefix)) {
            Some((_, field)) => Self::invalid(field, message),
            None => e.into(),
        }
    }
}

/// RFC 6749 §5.2's character set and length, as for every other error of the server
/// (a description may echo what the request sent).
fn sanitized(d: impl Into<String>) -> String {
    OAuthError::new(ErrorCode::InvalidRequest, d.into()).description().to_owned()
}

/// The request field a validation message of `core::admin` is about.
fn field_of(message: &str) -> &'static str {
    const BY_PREFIX: &[(&str, &str)] = &[
        ("name ", "name"),
        ("invalid realm name", "name"),
        ("username", "username"),
        ("access-ttl", "access_ttl"),
        ("refresh-ttl", "refresh_ttl"),
        ("refresh-grace", "refresh_grace"),
        ("code-ttl", "code_ttl"),
        ("customer-ttl", "customer_ttl"),
        ("grant-types", "grant_types"),
        ("scope:", "scopes"),
        ("default-scope", "default_scopes"),
        ("default scope", "default_scopes"),
        ("redirect URI", "redirect_uris"),
        ("a client may have at most", "redirect_uris"),
        ("authorization_code and implicit clients", "redirect_uris"),
        ("public clients authenticate", "auth_method"),
        ("a client cannot change between", "auth_method"),
        ("public clients cannot use", "grant_types"),
        ("public clients have no secret", "client_id"),
        ("passwords must", "password"),
        ("a user may have at most", "roles"),
        ("role names", "roles"),
        ("team names", "teams"),
        ("the default realm cannot", "realm"),
        ("unknown signing", "signing_alg"),
        ("invalid app name", "name"),
        ("invalid API key name", "name"),
        ("invalid permission name", "name"),
        ("invalid role name", "role"),
        ("too many permissions", "permissions"),
        ("'", "id"),
    ];
    BY_PREFIX.iter().find(|(p, _)| message.starts_with(p)).map_or("body", |(_, f)| f)
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(code = self.body.error, description = self.body.error_description, "admin request refused");
        }
        let mut response = no_store_json(self.status, &self.body);
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn validation_messages_name_their_field() {
        for (message, field) in [
            ("name must be 1 to 255 bytes without control characters", "name"),
            ("access-ttl must be between 1 and 315360000 seconds, got 0", "access_ttl"),
            ("redirect URI 'x' must not contain a fragment", "redirect_uris"),
            ("default scope 'b' is not among the client's scopes", "default_scopes"),
            ("passwords must be 8 to 1024 characters", "password"),
            ("something new", "body"),
        ] {
            assert_eq!(field_of(message), field, "{message}");
        }
    }
}
