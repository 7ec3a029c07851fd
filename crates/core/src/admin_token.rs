//! Admin tokens: the bearer credentials of the admin REST API, in the opaque-token
//! scheme (`token::opaque`) under a prefix of their own, `pcadm_SELECTOR_VERIFIER`.
//! Only the SHA-256 of the verifier is stored. A token is scoped to one realm or to
//! all of them.
//!
//! [`authenticate`] tells each cause of a refusal apart (the issue's "typed token
//! errors"): the admin API answers each with its own RFC 6750 `error_description`.
//! That is no oracle: an admin token carries 256 random bits, and "unknown" covers a
//! wrong verifier on a real id as well as an id that never existed.

use std::fmt;

use crate::admin::{Admin, AdminError, AdminResult};
use crate::secret::{constant_time_eq, push_base64url, random_bytes, sha256};
use crate::store::{Store, StoreError};
use crate::token::{opaque, parse_token_id_hex, token_id_hex, token_id_with};

pub const ADMIN_TOKEN_PREFIX: &str = "pcadm";
const SELECTOR_LEN: usize = 32;
const VERIFIER_LEN: usize = 43;
pub const ADMIN_TOKEN_LEN: usize = ADMIN_TOKEN_PREFIX.len() + 1 + SELECTOR_LEN + 1 + VERIFIER_LEN;

/// An admin token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub id: [u8; 16],
    /// `None`: the token administers every realm.
    pub realm: Option<String>,
    pub verifier_hash: [u8; 32],
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl AdminTokenRecord {
    pub fn id_hex(&self) -> String {
        token_id_hex(&self.id)
    }

    /// Whether this token may act on `realm`'s objects.
    pub fn covers(&self, realm: &str) -> bool {
        self.realm.as_deref().is_none_or(|r| r == realm)
    }
}

/// A freshly minted admin token: shown once, then dropped.
pub struct AdminTokenSecret(String);

impl AdminTokenSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminTokenSecret(****)")
    }
}

fn mint() -> ([u8; 16], [u8; 32], AdminTokenSecret) {
    let random = random_bytes::<{ 32 + 8 }>();
    let (verifier, selector_random) = random.split_at(32);
    let id = token_id_with(selector_random.try_into().expect("8 bytes"));
    let mut token = String::with_capacity(ADMIN_TOKEN_LEN);
    token.push_str(ADMIN_TOKEN_PREFIX);
    token.push('_');
    token.push_str(&token_id_hex(&id));
    token.push('_');
    let verifier_at = token.len();
    push_base64url(verifier, &mut token);
    let hash = sha256(&token.as_bytes()[verifier_at..]);
    (id, hash, AdminTokenSecret(token))
}

/// Why a presented bearer credential is not a usable admin token. Each has its own
/// description (RFC 6750 §3: `invalid_token`, or no error code when none was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminTokenRefusal {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer TOKEN`.
    NotBearer,
    /// A token of another kind (an access, refresh or API token, or a JWT).
    WrongKind,
    /// Not in the admin token format at all.
    Malformed,
    /// Well formed, but no admin token has this id and verifier.
    Unknown,
    Revoked,
}

impl AdminTokenRefusal {
    pub fn description(self) -> &'static str {
        match self {
            Self::Missing => "an admin token is required: send Authorization: Bearer ADMIN_TOKEN",
            Self::NotBearer => "the Authorization header must be 'Bearer ADMIN_TOKEN'",
            Self::WrongKind => "this is an OAuth token, not an admin token (portcullis admin-token create)",
            Self::Malformed => "the bearer token is not an admin token (expected pcadm_...)",
            Self::Unknown => "unknown admin token",
            Self::Revoked => "the admin token has been revoked",
        }
    }
}

#[derive(Debug)]
pub enum AdminAuthError {
    Refused(AdminTokenRefusal),
    Store(StoreError),
}

/// A presented admin token split into its parts; says nothing yet about validity.
#[derive(PartialEq, Eq)]
pub struct ParsedAdminToken<'a> {
    pub id: [u8; 16],
    verifier: &'a str,
}

impl fmt::Debug for ParsedAdminToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedAdminToken").field("id", &token_id_hex(&self.id)).finish_non_exhaustive()
    }
}

impl ParsedAdminToken<'_> {
    /// Constant-time comparison of the verifier with the stored hash.
    pub fn verifies(&self, stored_hash: &[u8]) -> bool {
        constant_time_eq(&sha256(self.verifier.as_bytes()), stored_hash)
    }
}

/// Everything [`authenticate`] checks before the database: the header's scheme and
/// the token's format. Public so the fuzz targets reach the same code.
pub fn parse_header(header: Option<&[u8]>) -> Result<ParsedAdminToken<'_>, AdminTokenRefusal> {
    use AdminTokenRefusal as R;
    let header = header.ok_or(R::Missing)?;
    let token = bearer_token(header).ok_or(R::NotBearer)?;
    let Some((id, verifier)) = split(token) else {
        let other_kind = opaque::parse(token).is_some() || looks_like_jwt(token);
        return Err(if other_kind { R::WrongKind } else { R::Malformed });
    };
    Ok(ParsedAdminToken { id, verifier })
}

/// The admin token an `Authorization` header value carries (`None`: no header).
pub async fn authenticate(store: &dyn Store, header: Option<&[u8]>) -> Result<AdminTokenRecord, AdminAuthError> {
    let refuse = |r| Err(AdminAuthError::Refused(r));
    let parsed = parse_header(header).map_err(AdminAuthError::Refused)?;
    let record = store.get_admin_token(&parsed.id).await.map_err(AdminAuthError::Store)?;
    let Some(record) = record.filter(|r| parsed.verifies(&r.verifier_hash)) else {
        return refuse(AdminTokenRefusal::Unknown);
    };
    if record.revoked_at.is_some() {
        return refuse(AdminTokenRefusal::Revoked);
    }
    Ok(record)
}

/// RFC 6750 §2.1: `Bearer` (case-insensitive scheme) and one token68 value.
fn bearer_token(header: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(header).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
}

fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

fn split(token: &str) -> Option<([u8; 16], &str)> {
    if token.len() != ADMIN_TOKEN_LEN || !token.is_ascii() {
        return None;
    }
    let rest = token.strip_prefix(ADMIN_TOKEN_PREFIX)?.strip_prefix('_')?;
    let (selector, rest) = rest.split_at(SELECTOR_LEN);
    let verifier = rest.strip_prefix('_')?;
    let lower_hex = selector.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let base64url = verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !lower_hex || !base64url {
        return None;
    }
    Some((parse_token_id_hex(selector)?, verifier))
}

impl Admin<'_> {
    /// A new admin token for `realm` (which must exist), or for every realm.
    pub async fn create_admin_token(&self, realm: Option<&str>) -> AdminResult<(AdminTokenRecord, AdminTokenSecret)> {
        if let Some(r) = realm {
            self.realm(r).await?;
        }
        let (id, verifier_hash, secret) = mint();
        let record = AdminTokenRecord {
            id,
            realm: realm.map(str::to_owned),
            verifier_hash,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.create_admin_token(&record).await?;
        Ok((record, secret))
    }

    pub async fn admin_tokens(&self) -> AdminResult<Vec<AdminTokenRecord>> {
        Ok(self.store.list_admin_tokens().await?)
    }

    pub async fn revoke_admin_token(&self, id_hex: &str) -> AdminResult<AdminTokenRecord> {
        let id = parse_token_id_hex(id_hex)
            .ok_or_else(|| AdminError::Invalid(format!("'{id_hex}' is not an admin token id (32 hex digits)")))?;
        let not_found = || AdminError::NotFound(format!("no live admin token '{id_hex}'"));
        let record = self.store.get_admin_token(&id).await?.ok_or_else(not_found)?;
        if !self.store.revoke_admin_token(&id, self.clock.now()).await? {
            return Err(not_found());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_split_back_and_verify() {
        let (id, hash, secret) = mint();
        let (parsed, verifier) = split(secret.expose()).expect("splits");
        assert_eq!(parsed, id);
        assert_eq!(sha256(verifier.as_bytes()), hash);
        assert!(secret.expose().starts_with("pcadm_"));
        assert_eq!(format!("{secret:?}"), "AdminTokenSecret(****)");
    }

    #[test]
    fn other_strings_do_not_split() {
        let (_, _, secret) = mint();
        let t = secret.expose();
        for bad in [
            "",
            "pcadm_",
            &t[..t.len() - 1],
            &t.replacen("pcadm", "pcadx", 1),
            &t.to_uppercase(),
            &format!("{t}x"),
            &t.replacen('_', "-", 1),
        ] {
            assert!(split(bad).is_none(), "{bad}");
        }
        let access = opaque::mint(crate::model::TokenKind::Access).token;
        assert!(split(&access).is_none() && opaque::parse(&access).is_some());
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer_token(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"bearer abc"), Some("abc"));
        for bad in [&b"Basic abc"[..], b"Bearer", b"Bearer ", b"Bearer a b", b"\xff\xfe"] {
            assert_eq!(bearer_token(bad), None);
        }
    }
}
