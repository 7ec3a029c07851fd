//! The endpoints' protocol logic, one module each. The server crate parses HTTP,
//! calls these, and renders what they return.

pub mod check_token;
pub mod introspect;
pub mod metadata;
pub mod refusal;
pub mod revoke;
pub mod token;

use crate::authority::Authority;
use crate::error::{OAuthError, store_failure};
use crate::model::{Client, Realm, StoredToken, TokenKind, TokenRecord};
use crate::org::StoredApiKey;
use crate::token::jwt::{self, MAX_JWT_LEN};
use crate::token::{api_key, opaque, parse_token_id_hex};
use refusal::{Refusal, refusal};

/// Why a presented token is not usable, for `check_token`'s messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Unrecognised,
    Expired,
}

/// Finds the live record behind a presented token of `realm`: opaque or JWT, checked
/// for signature, verifier, realm, revocation (of the token or its grant), a spent
/// refresh token, expiry, and a disabled client or user.
///
/// Database failures are errors, never `Unrecognised`: a revoked token must not
/// read as unknown-but-fine, nor a live one as revoked, while the answer is unknown.
pub async fn resolve(
    authority: &Authority,
    realm: &Realm,
    token: &str,
) -> Result<Result<StoredToken, Unusable>, OAuthError> {
    Ok(resolve_for(authority, realm, token, None).await?.token)
}

/// What [`resolve_for`] found.
pub struct Resolved {
    pub token: Result<StoredToken, Unusable>,
    /// Whether the caller's copy was still current when the token was read; `None`
    /// when the token was refused without reading the database.
    pub caller_current: Option<bool>,
}

/// [`resolve`], reading, with the token's row and in the same snapshot, whether
/// `caller` (a cached copy of the authenticated client) is still current.
pub async fn resolve_for(
    authority: &Authority,
    realm: &Realm,
    token: &str,
    caller: Option<&Client>,
) -> Result<Resolved, OAuthError> {
    let (stored, verifier_ok, caller_current) = match find(authority, realm, token, caller).await? {
        Found::Refused(why) => return Ok(Resolved { token: Err(why), caller_current: None }),
        Found::ApiKey(live) => {
            return Ok(Resolved {
                token: live.map(api_key_as_token).ok_or(Unusable::Unrecognised),
                caller_current: None,
            });
        }
        Found::Row { stored, verifier_ok, caller_current } => (stored, verifier_ok, caller_current),
    };
    let found = |token| Ok(Resolved { token, caller_current });
    let Some(stored) = stored else {
        tracing::debug!(reason = Refusal::Unknown.as_str(), "token refused");
        return found(Err(Unusable::Unrecognised));
    };
    match refusal(&stored, verifier_ok, &realm.name, authority.now()) {
        None => found(Ok(stored)),
        Some(reason) => {
            tracing::debug!(reason = reason.as_str(), client_id = %stored.record.client_id, "token refused");
            found(Err(if reason == Refusal::Expired { Unusable::Expired } else { Unusable::Unrecognised }))
        }
    }
}

/// The record behind a presented token of `realm` that is authentic (its verifier or
/// signature checks out) whether or not it is still usable: what revocation acts on.
/// A refresh token spent a moment ago by a concurrent refresh is still its family's
/// handle: revoking it must reach the tokens that refresh issued (SECURITY-CASES R3).
/// API keys are never revoked through it.
pub async fn resolve_authentic(
    authority: &Authority,
    realm: &Realm,
    token: &str,
) -> Result<Option<StoredToken>, OAuthError> {
    match find(authority, realm, token, None).await? {
        Found::Row { stored: Some(stored), verifier_ok: true, .. } if stored.record.realm == realm.name => {
            Ok(Some(stored))
        }
        _ => Ok(None),
    }
}

/// What a presented token led to before any rule about its standing was applied.
enum Found {
    /// Refused without reading the database (malformed, a bad or expired signature).
    Refused(Unusable),
    /// An API key: the live key, or `None`.
    ApiKey(Option<StoredApiKey>),
    /// The row its id names (if any), whether the presented form matched it, and
    /// whether `caller` was current in the same read.
    Row { stored: Option<StoredToken>, verifier_ok: bool, caller_current: Option<bool> },
}

async fn find(authority: &Authority, realm: &Realm, token: &str, caller: Option<&Client>) -> Result<Found, OAuthError> {
    if api_key::parse(token).is_some() {
        let live = authority.live_api_key(&realm.name, token).await?;
        if live.is_none() {
            // Unknown, revoked, another realm's or its app's disabled: one lookup answers all.
            tracing::debug!(reason = "API key not live", "token refused");
        }
        return Ok(Found::ApiKey(live));
    }
    let now = authority.now();
    let (id, opaque_check) = if let Some(parsed) = opaque::parse(token) {
        (parsed.id, Some(parsed))
    } else if token.len() <= MAX_JWT_LEN && token.bytes().filter(|b| *b == b'.').count() == 2 {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        let Some(kid) = kid else { return Ok(Found::Refused(Unusable::Unrecognised)) };
        let ring = authority.key_ring(&realm.name, Some(&kid)).await?;
        let issuer = authority.issuer(&realm.name);
        let claims = match jwt::verify(token, &ring, &issuer, &authority.audience(&realm.name), now) {
            Ok(c) => c,
            Err(jwt::JwtRejection::Expired) => {
                tracing::debug!(reason = Refusal::Expired.as_str(), "token refused");
                return Ok(Found::Refused(Unusable::Expired));
            }
            Err(rejection) => {
                tracing::debug!(?rejection, "JWT rejected");
                return Ok(Found::Refused(Unusable::Unrecognised));
            }
        };
        let Some(id) = parse_token_id_hex(&claims.jti) else { return Ok(Found::Refused(Unusable::Unrecognised)) };
        (id, None)
    } else {
        return Ok(Found::Refused(Unusable::Unrecognised));
    };
    let (stored, caller_current) = match caller {
        None => (authority.store.get_token(&id).await.map_err(store_failure)?, None),
        Some(c) => {
            let (stored, revision) = authority
                .store
                .get_token_and_client_revision(&id, &c.realm, &c.client_id)
                .await
                .map_err(store_failure)?;
            (stored, Some(revision == Some(c.revision)))
        }
    };
    let verifier_ok = stored.as_ref().is_some_and(|stored| {
        let record = &stored.record;
        match (&opaque_check, &record.verifier_hash) {
            (Some(p), Some(h)) => p.verifies(h) && p.kind == record.kind,
            // A JWT's row has no verifier; an opaque string never matches a JWT's row.
            (None, None) => matches!(record.kind, TokenKind::Access | TokenKind::Customer),
            _ => false,
        }
    });
    Ok(Found::Row { stored, verifier_ok, caller_current })
}

/// An API key seen as a token of kind `api`: its app is the client and the subject, it
/// never expires, and it stands while the key is live.
fn api_key_as_token(stored: StoredApiKey) -> StoredToken {
    let k = stored.key;
    StoredToken {
        record: TokenRecord {
            id: k.id,
            realm: k.realm,
            kind: TokenKind::Api,
            verifier_hash: Some(k.verifier_hash),
            client_id: k.app_id.clone(),
            subject: k.app_id,
            username: None,
            scope: k.scope,
            grant_id: None,
            permissions: k.permissions,
            test: k.test,
            issued_at: k.created_at,
            expires_at: None,
            revoked_at: k.revoked_at,
            used_at: None,
        },
        client_disabled: stored.app_disabled,
        grant_revoked: false,
        teams: Vec::new(),
        user: None,
    }
}
