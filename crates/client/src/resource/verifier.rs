//! Verifying a presented access token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};

use super::claims::Claims;
use super::jwks::{Jwks, REFETCH_INTERVAL};
use crate::config::ClientConfig;
use crate::discovery::{self, ServerMetadata};
use crate::error::Error;
use crate::requests::{Requests, http_client};

/// Why a token was refused; each has its own `error_description` (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token in the Authorization header")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token is not active (revoked, expired or unknown)")]
    Inactive,
    /// Seen active before its `exp`, now inactive: ended at the server.
    #[error("the token has been revoked")]
    Revoked,
    #[error("{}", wrong_kind(expected, found))]
    WrongKind { expected: String, found: String },
    #[error("the token belongs to another app ('{found}'), this resource serves '{expected}'")]
    WrongApp { expected: String, found: String },
    /// Neither subject is named: the expected one may be a user's id, which a caller
    /// holding someone else's token has no business learning.
    #[error("the token was issued for another subject than the one this resource serves")]
    WrongSubject,
    #[error("the token lacks the required scope")]
    InsufficientScope { required: Vec<String> },
    #[error("the token lacks the permission '{0}'")]
    MissingPermission(String),
    /// The issuer could not be asked (introspection or JWKS failed): not the token's
    /// fault, so answered 503, never as an invalid token.
    #[error("the authorization server cannot be reached: {0}")]
    Unavailable(String),
}

/// Names the usual mix-ups of an organization's kinds plainly.
fn wrong_kind(expected: &str, found: &str) -> String {
    match found {
        "customer" => format!("a customer token is not accepted here, this resource takes {expected}"),
        "api" => format!("an API key is not accepted here, this resource takes {expected}"),
        _ => format!("the token is of kind '{found}', this resource takes {expected}"),
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Most opaque-token answers kept at once; past it the cache is cleared.
const INTROSPECTION_CACHE_CAP: usize = 10_000;

/// Checks access tokens of one issuer: see the module documentation.
/// Clones share the keys and the introspection cache; each clone has its own
/// settings, so one issuer's verifier can serve resources with different audiences.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
    audience: String,
    leeway: Duration,
    max_cache: Duration,
    jwks_refetch: Duration,
}

struct Inner {
    issuer: String,
    jwks: Option<Jwks>,
    requests: Requests,
    cache: Mutex<HashMap<String, (Claims, Instant)>>,
}

impl Verifier {
    /// A verifier for `issuer`'s tokens. `config` is this resource server's client (it
    /// authenticates introspection); the expected audience is the issuer until
    /// [`Self::with_audience`], the leeway 30 s, and introspection answers are cached
    /// for up to 60 s (never past the token's `exp`) until
    /// [`Self::with_introspection_cache`].
    pub async fn discover(issuer: &str, config: ClientConfig) -> Result<Self, Error> {
        let http = http_client(config.http_timeout)?;
        let metadata = discovery::discover(&http, issuer).await?;
        Self::with_metadata(metadata, config, http)
    }

    pub fn with_metadata(metadata: ServerMetadata, config: ClientConfig, http: reqwest::Client) -> Result<Self, Error> {
        let jwks = metadata.jwks_uri.clone().map(|u| Jwks::new(u, http.clone()));
        let requests = Requests::new(&config, &metadata, http)?;
        Ok(Self {
            audience: metadata.issuer.clone(),
            leeway: Duration::from_secs(30),
            max_cache: Duration::from_secs(60),
            jwks_refetch: REFETCH_INTERVAL,
            inner: Arc::new(Inner { issuer: metadata.issuer, jwks, requests, cache: Mutex::new(HashMap::new()) }),
        })
    }

    /// The `aud` a JWT must carry.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The shortest time between two JWKS fetches that unknown `kid`s trigger (5 s by
    /// default): a rotation at the issuer is picked up by the first token signed with
    /// the new key after that long.
    pub fn with_jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_refetch = interval;
        self
    }

    /// Clock skew tolerated on `exp` and `nbf`.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long an introspection answer is reused; 0 asks the server every time, as a
    /// deployment that needs revocations to apply at once should.
    pub fn with_introspection_cache(mut self, max: Duration) -> Self {
        self.max_cache = max;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The token's claims if it is valid for this resource server.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.is_empty() || token.len() > 16 * 1024 {
            return Err(TokenError::Malformed);
        }
        if token.bytes().filter(|b| *b == b'.').count() == 2 {
            self.verify_jwt(token).await
        } else {
            self.introspect(token).await
        }
    }

    async fn verify_jwt(&self, token: &str) -> Result<Claims, TokenError> {
        // An unknown `alg` (`none` included) does not even parse.
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let Some(jwks) = &self.inner.jwks else { return self.introspect(token).await };
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = jwks.key(kid, self.jwks_refetch).await.map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let Some(key) = key else {
            // Symmetric (HS*) keys are never published: only the issuer can check those.
            return if header.alg.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                self.introspect(token).await
            } else {
                Err(TokenError::UnknownKey)
            };
        };
        if key.alg != header.alg {
            return Err(TokenError::Algorithm);
        }
        let mut v = Validation::new(key.alg);
        v.set_issuer(&[&self.inner.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.leeway = self.leeway.as_secs();
        v.validate_nbf = true;
        let claims = decode::<Claims>(token, &key.key, &v).map(|d| d.claims).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
            _ => TokenError::Malformed,
        })?;
        // Without `nbf`, a token issued in the future is not valid yet either.
        if claims.iat.is_some_and(|iat| iat > unix_now() + self.leeway.as_secs() as i64) {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }

    async fn introspect(&self, token: &str) -> Result<Claims, TokenError> {
        let now = Instant::now();
        let unix = unix_now();
        let leeway = self.leeway.as_secs() as i64;
        // An earlier answer, fresh or not: a fresh one is reused, a stale one says
        // whether an inactive answer now means expired or revoked.
        let seen = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner()).get(token).cloned();
        if let Some((claims, until)) = &seen {
            if claims.exp.is_some_and(|exp| exp + leeway <= unix) {
                return Err(TokenError::Expired);
            }
            if !self.max_cache.is_zero() && *until > now {
                return Ok(claims.clone());
            }
        }
        let answer = self.inner.requests.introspect(token).await.map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if !answer.active {
            // The server says no more than that (RFC 7662 §2.2); what was seen of the
            // token before tells a revocation apart.
            return Err(if seen.is_some() { TokenError::Revoked } else { TokenError::Inactive });
        }
        let claims = Claims::from_introspection(answer);
        // The server's clock may differ from ours: its word is checked against ours.
        if claims.exp.is_some_and(|exp| exp + leeway <= unix) {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > unix + leeway) {
            return Err(TokenError::NotYetValid);
        }
        // Remembered even without caching (then never reused), to describe a later refusal.
        let left = claims.exp.map_or(self.max_cache, |exp| {
            Duration::from_secs(exp.saturating_sub(unix).max(0) as u64).min(self.max_cache)
        });
        let mut cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= INTROSPECTION_CACHE_CAP {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= INTROSPECTION_CACHE_CAP {
                cache.clear();
            }
        }
        cache.insert(token.to_owned(), (claims.clone(), now + left));
        Ok(claims)
    }
}
