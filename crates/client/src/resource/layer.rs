//! `RequireToken`, the tower layer, and `VerifiedToken`, the axum extractor of what
//! it verified. Answers follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer
//! error="invalid_token"` for a bad token, 403 `insufficient_scope` with the scope
//! needed, and no error code at all when no token was sent.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::claims::Claims;
use super::verifier::{TokenError, Verifier};

/// Requires a valid bearer token, and of it: every `scope` (each given as one or more
/// alternatives), one of the `kind`s if any, the `app` and the `subject` if set, every
/// `permission`.
#[derive(Clone)]
pub struct RequireToken {
    verifier: Verifier,
    scopes: Vec<Vec<String>>,
    kinds: Vec<String>,
    app: Option<String>,
    subject: Option<String>,
    permissions: Vec<String>,
    resource_metadata: Option<String>,
    form_body: bool,
}

/// Largest form body read for an `access_token` when the form-body method is on.
const FORM_BODY_LIMIT: usize = 64 * 1024;

impl RequireToken {
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            scopes: Vec::new(),
            kinds: Vec::new(),
            app: None,
            subject: None,
            permissions: Vec::new(),
            resource_metadata: None,
            form_body: false,
        }
    }

    /// The token must carry `scope`.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scopes.push(vec![scope.to_owned()]);
        self
    }

    /// The token must carry at least one of `scopes`.
    pub fn any_scope(mut self, scopes: &[&str]) -> Self {
        self.scopes.push(scopes.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// The token must be of this kind (`access`, `customer`, `api`); several calls
    /// allow several kinds.
    pub fn kind(mut self, kind: &str) -> Self {
        self.kinds.push(kind.to_owned());
        self
    }

    /// The token must belong to this app: its `client_id` is the app's id, for an API
    /// key as for a customer token obtained through one.
    pub fn app(mut self, app_id: &str) -> Self {
        self.app = Some(app_id.to_owned());
        self
    }

    /// The token must have been issued for this subject: its `sub` (a user's id for a
    /// user's or customer's token, the client's id for client credentials) is
    /// `subject`. A token of anyone else is `invalid_token` (401), like one of another
    /// app: the token is not one this resource accepts at all, whatever its scope. A
    /// later call replaces an earlier one.
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// The token must carry this permission.
    pub fn permission(mut self, permission: &str) -> Self {
        self.permissions.push(permission.to_owned());
        self
    }

    /// Names this resource's RFC 9728 metadata URL in every 401's `WWW-Authenticate`,
    /// so clients find the authorization server.
    pub fn resource_metadata(mut self, url: &str) -> Self {
        self.resource_metadata = Some(url.to_owned());
        self
    }

    /// Also accepts the token as `access_token` in an `application/x-www-form-urlencoded`
    /// body (RFC 6750 §2.2) when no Authorization header carries one. Off by default;
    /// the query string (§2.3) is never read.
    pub fn allow_form_body(mut self) -> Self {
        self.form_body = true;
        self
    }

    /// The claims of `token` if it satisfies every requirement.
    pub async fn check(&self, token: Option<&str>) -> Result<Claims, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let claims = self.verifier.verify(token).await?;
        if !self.kinds.is_empty() {
            let found = claims.kind.clone().unwrap_or_else(|| "access".to_owned());
            if !self.kinds.contains(&found) {
                return Err(TokenError::WrongKind { expected: self.kinds.join(" or "), found });
            }
        }
        if let Some(expected) = &self.app
            && claims.client_id.as_deref() != Some(expected)
        {
            let found = claims.client_id.clone().unwrap_or_default();
            return Err(TokenError::WrongApp { expected: expected.clone(), found });
        }
        if let Some(expected) = &self.subject
            && claims.sub.as_deref() != Some(expected)
        {
            return Err(TokenError::WrongSubject);
        }
        for alternatives in &self.scopes {
            if !alternatives.iter().any(|s| claims.has_scope(s)) {
                return Err(TokenError::InsufficientScope { required: alternatives.clone() });
            }
        }
        if let Some(p) = self.permissions.iter().find(|p| !claims.has_permission(p)) {
            return Err(TokenError::MissingPermission(p.clone()));
        }
        Ok(claims)
    }

    fn refusal(&self, e: &TokenError) -> Response {
        refusal(e, self.resource_metadata.as_deref())
    }
}

fn is_form(parts: &Parts) -> bool {
    parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    })
}

/// The bearer token of `parts` (RFC 6750 §2.1), never from the query string.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

fn refusal(e: &TokenError, resource_metadata: Option<&str>) -> Response {
    // The description is ours, never input, and quoted-string safe.
    let description = e.to_string().replace(['"', '\\'], "'");
    let metadata = resource_metadata.map(|u| format!(", resource_metadata=\"{u}\"")).unwrap_or_default();
    let (status, challenge, body) = match e {
        TokenError::Missing => (StatusCode::UNAUTHORIZED, format!("Bearer{}", metadata.replacen(',', "", 1)), None),
        TokenError::InsufficientScope { required } => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{description}\", scope=\"{}\"",
                required.join(" ")
            ),
            Some("insufficient_scope"),
        ),
        TokenError::MissingPermission(_) => (
            StatusCode::FORBIDDEN,
            format!("Bearer error=\"insufficient_scope\", error_description=\"{description}\""),
            Some("insufficient_scope"),
        ),
        TokenError::Unavailable(_) => {
            let body = serde_json::json!({"error": "temporarily_unavailable", "error_description": "the authorization server cannot be reached"});
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return r;
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\"{metadata}"),
            Some("invalid_token"),
        ),
    };
    let mut r = match body {
        Some(code) => {
            (status, axum::Json(serde_json::json!({"error": code, "error_description": description}))).into_response()
        }
        None => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

impl<S> Layer<S> for RequireToken {
    type Service = RequireTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireTokenService { inner, require: self.clone() }
    }
}

/// The service [`RequireToken`] wraps around a handler.
#[derive(Clone)]
pub struct RequireTokenService<S> {
    inner: S,
    require: RequireToken,
}

impl<S> Service<Request> for RequireTokenService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let require = self.require.clone();
        Box::pin(async move {
            let (mut parts, mut body) = request.into_parts();
            let mut token = bearer(&parts).map(str::to_owned);
            if token.is_none() && require.form_body && is_form(&parts) {
                let Ok(bytes) = axum::body::to_bytes(body, FORM_BODY_LIMIT).await else {
                    return Ok(require.refusal(&TokenError::Malformed));
                };
                token =
                    url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned());
                body = axum::body::Body::from(bytes);
            }
            match require.check(token.as_deref()).await {
                Ok(claims) => {
                    parts.extensions.insert(VerifiedToken(claims));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(e) => Ok(require.refusal(&e)),
            }
        })
    }
}

/// The claims [`RequireToken`] verified, for the handler behind it.
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for VerifiedToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        // Without the layer in front there is nothing verified: refused like a request
        // without a token, never let through.
        parts.extensions.get::<VerifiedToken>().cloned().ok_or_else(|| refusal(&TokenError::Missing, None))
    }
}
