//! The one protocol error. Every failure a client can see is an [`OAuthError`]; the
//! server turns it into a response in exactly one place.

use std::borrow::Cow;
use std::fmt;

use crate::store::StoreError;

/// The error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 and
/// RFC 8628 §3.5, plus `not_found` for a realm that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    LoginRequired,
    ConsentRequired,
    InvalidScope,
    InvalidToken,
    AccessDenied,
    UnsupportedTokenType,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    /// `temporarily_unavailable` with 429: this caller has too much pending.
    TooManyRequests,
    /// `temporarily_unavailable` with 408: the request outran the server's time limit.
    RequestTimeout,
    TemporarilyUnavailable,
    ServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "invalid_request",
            ErrorCode::PayloadTooLarge => "invalid_request",
            ErrorCode::TooManyRequests => "temporarily_unavailable",
            ErrorCode::RequestTimeout => "temporarily_unavailable",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status the RFCs give each code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::AccessDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A protocol error: an RFC code, a description for the client, and (for
/// `server_error` and `temporarily_unavailable`) the cause, which is logged and
/// never shown.
pub struct OAuthError {
    pub code: ErrorCode,
    description: Cow<'static, str>,
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Seconds after which a refused caller may try again (`Retry-After`).
    retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: sanitize(description.into()), source: None, retry_after: None }
    }

    /// 429 `temporarily_unavailable`: this caller is over a limit for `retry_after_secs`.
    pub fn too_many_requests(d: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        Self { retry_after: Some(retry_after_secs.max(1)), ..Self::new(ErrorCode::TooManyRequests, d) }
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The client changed (in another request or on another instance) while this
    /// request used an older copy of it, and changed again on the one retry against
    /// the database (`authority::Issued::ClientChanged`, answered here).
    pub fn client_changed() -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the client was changed while this request was served; retry")
    }

    /// A refusal of the request as made (a 4xx), as opposed to a failure to serve it.
    pub fn is_refusal(&self) -> bool {
        self.code.http_status() < 500
    }

    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The description a client may see. RFC 6749 §5.2 limits it to
    /// %x20-21 / %x23-5B / %x5D-7E, which [`OAuthError::new`] enforces.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn unsupported_grant_type(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, d)
    }
    pub fn not_found(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, d)
    }
    pub fn server_error(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorCode::ServerError, "the server met an unexpected condition").with_source(source)
    }
    pub fn unavailable(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the server cannot reach its database; retry later")
            .with_source(source)
    }
}

/// Maps a storage failure to what the client sees: 503 when the database is out of
/// reach (RFC 7009 §2.2.1 lets clients retry), 500 otherwise; never the cause itself.
pub fn store_failure(e: StoreError) -> OAuthError {
    match e {
        StoreError::Unavailable(_) => OAuthError::unavailable(e),
        other => OAuthError::server_error(other),
    }
}

/// Replaces characters RFC 6749 §5.2 forbids in `error_description` and bounds its
/// length, so an echoed client value can never break the JSON or a header.
fn sanitize(d: Cow<'static, str>) -> Cow<'static, str> {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if d.len() <= 300 && d.chars().all(allowed) {
        return d;
    }
    let cleaned: String = d.chars().take(300).map(|c| if allowed(c) { c } else { '?' }).collect();
    Cow::Owned(cleaned)
}

impl fmt::Debug for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthError")
            .field("code", &self.code.as_str())
            .field("description", &self.description)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_never_carries_quotes_backslashes_or_newlines() {
        let e = OAuthError::invalid_request(format!("bad value \"x\\y\"\r\n{}", "é"));
        assert_eq!(e.description(), "bad value ?x?y????");
    }

    #[test]
    fn long_descriptions_are_bounded() {
        let e = OAuthError::invalid_request("a".repeat(5000));
        assert_eq!(e.description().len(), 300);
    }
}
