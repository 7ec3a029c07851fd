//! The endpoints' protocol logic, one module each. The server crate parses HTTP,
//! calls these, and renders what they return.

pub mod check_token;
pub mod introspect;
pub mod metadata;
pub mod revoke;
pub mod token;

use crate::authority::{Authority, store_failure};
use crate::error::OAuthError;
use crate::model::{Realm, StoredToken, TokenKind};
use crate::token::jwt::{self, MAX_JWT_LEN};
use crate::token::{opaque, parse_token_id_hex};

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
    let now = authority.now();
    let (id, opaque_check) = if let Some(parsed) = opaque::parse(token) {
        (parsed.id, Some(parsed))
    } else if token.len() <= MAX_JWT_LEN && token.bytes().filter(|b| *b == b'.').count() == 2 {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        let Some(kid) = kid else { return Ok(Err(Unusable::Unrecognised)) };
        let ring = authority.key_ring(&realm.name, Some(&kid)).await?;
        let issuer = authority.issuer(&realm.name);
        let claims = match jwt::verify(token, &ring, &issuer, &authority.audience(&realm.name), now) {
            Ok(c) => c,
            Err(jwt::JwtRejection::Expired) => return Ok(Err(Unusable::Expired)),
            Err(rejection) => {
                tracing::debug!(?rejection, "JWT rejected");
                return Ok(Err(Unusable::Unrecognised));
            }
        };
        let Some(id) = parse_token_id_hex(&claims.jti) else { return Ok(Err(Unusable::Unrecognised)) };
        (id, None)
    } else {
        return Ok(Err(Unusable::Unrecognised));
    };
    let Some(stored) = authority.store.get_token(&id).await.map_err(store_failure)? else {
        return Ok(Err(Unusable::Unrecognised));
    };
    let record = &stored.record;
    let verifier_ok = match (&opaque_check, &record.verifier_hash) {
        (Some(p), Some(h)) => p.verifies(h) && p.kind == record.kind,
        // A JWT's row has no verifier; an opaque string never matches a JWT's row.
        (None, None) => record.kind == TokenKind::Access,
        _ => false,
    };
    if !verifier_ok || record.used_at.is_some() || !stored.standing(&realm.name) {
        return Ok(Err(Unusable::Unrecognised));
    }
    if stored.expired(now) {
        return Ok(Err(Unusable::Expired));
    }
    Ok(Ok(stored))
}
