//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3).

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

use crate::error::{OAuthError, store_failure};
use crate::model::{AuthMethod, Client};
use crate::params::Params;
use crate::secret::SecretHasher;
use crate::store::Store;
use crate::urlencoded::decode_component;

/// What the request offered as client credentials, before any lookup.
#[derive(PartialEq, Eq)]
pub enum PresentedClient {
    /// `Authorization: Basic`, id and secret form-decoded (RFC 6749 §2.3.1).
    Basic {
        client_id: String,
        secret: String,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        client_id: String,
        secret: String,
    },
    /// Only `client_id`: a public client.
    Public {
        client_id: String,
    },
    Anonymous,
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PresentedClient::Basic { client_id, .. } => write!(f, "Basic({client_id})"),
            PresentedClient::Post { client_id, .. } => write!(f, "Post({client_id})"),
            PresentedClient::Public { client_id } => write!(f, "Public({client_id})"),
            PresentedClient::Anonymous => f.write_str("Anonymous"),
        }
    }
}

const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest `Authorization` header considered; the server's header limit comes first.
const MAX_AUTHORIZATION_LEN: usize = 4096;

fn malformed_basic() -> OAuthError {
    OAuthError::invalid_client("malformed Basic credentials: expected base64 of 'client_id:client_secret'")
}

/// Reads the credentials of a request. Two methods at once is `invalid_request`
/// (RFC 6749 §2.3: "MUST NOT use more than one authentication method").
pub fn presented(authorization: Option<&[u8]>, params: &Params) -> Result<PresentedClient, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let Some(header) = authorization else {
        return Ok(match (body_id, body_secret) {
            (Some(id), Some(s)) => PresentedClient::Post { client_id: id.to_owned(), secret: s.to_owned() },
            (Some(id), None) => PresentedClient::Public { client_id: id.to_owned() },
            (None, Some(_)) => return Err(OAuthError::invalid_request("client_secret was sent without client_id")),
            (None, None) => PresentedClient::Anonymous,
        });
    };
    if header.len() > MAX_AUTHORIZATION_LEN {
        return Err(malformed_basic());
    }
    let header = std::str::from_utf8(header).map_err(|_| malformed_basic())?;
    let (scheme, encoded) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client("the Authorization header must use the Basic scheme"));
    }
    let decoded = BASIC.decode(encoded.trim()).map_err(|_| malformed_basic())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed_basic())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed_basic)?;
    let client_id = decode_component(id).map_err(|_| malformed_basic())?;
    let secret = decode_component(secret).map_err(|_| malformed_basic())?;
    if client_id.is_empty() {
        return Err(malformed_basic());
    }
    if body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "client credentials were sent both in the Authorization header and in the body",
        ));
    }
    if body_id.is_some_and(|b| b != client_id) {
        return Err(OAuthError::invalid_request("client_id in the body differs from the Authorization header"));
    }
    Ok(PresentedClient::Basic { client_id, secret })
}

/// One answer for every failure, so a response never tells an unknown client from a
/// wrong secret.
fn failed() -> OAuthError {
    OAuthError::invalid_client(
        "client authentication failed: unknown or disabled client, wrong secret, or a method the client is not registered for",
    )
}

impl PresentedClient {
    pub fn client_id(&self) -> Option<&str> {
        match self {
            PresentedClient::Basic { client_id, .. }
            | PresentedClient::Post { client_id, .. }
            | PresentedClient::Public { client_id } => Some(client_id),
            PresentedClient::Anonymous => None,
        }
    }
}

/// Authenticates the presented client against the realm's registered clients, read
/// from the database.
pub async fn authenticate(
    store: &dyn Store,
    hasher: &SecretHasher,
    realm: &str,
    presented: &PresentedClient,
) -> Result<Client, OAuthError> {
    let Some(client_id) = presented.client_id() else {
        return Err(OAuthError::invalid_client("client authentication is required"));
    };
    let client = store.get_client(realm, client_id).await.map_err(store_failure)?;
    verify(client.as_ref(), hasher, presented)?;
    client.ok_or_else(failed)
}

/// Checks the presented credentials against `client` (the registered client with the
/// presented id, if there is one).
pub fn verify(client: Option<&Client>, hasher: &SecretHasher, presented: &PresentedClient) -> Result<(), OAuthError> {
    let (secret, method) = match presented {
        PresentedClient::Anonymous => {
            return Err(OAuthError::invalid_client("client authentication is required"));
        }
        PresentedClient::Basic { secret, .. } => (Some(secret), AuthMethod::ClientSecretBasic),
        PresentedClient::Post { secret, .. } => (Some(secret), AuthMethod::ClientSecretPost),
        PresentedClient::Public { .. } => (None, AuthMethod::None),
    };
    let Some(client) = client else {
        // Spend the same work as a real check, so timing does not reveal which ids exist.
        if let Some(s) = secret {
            let _ = hasher.verify(s, &[0u8; 32]);
        }
        return Err(failed());
    };
    let secret_ok = match (secret, &client.secret_hash) {
        (Some(s), Some(h)) => hasher.verify(s, h),
        (None, None) => true,
        (Some(s), None) => {
            let _ = hasher.verify(s, &[0u8; 32]);
            false
        }
        (None, Some(_)) => false,
    };
    if !secret_ok || client.disabled || client.auth_method != method {
        return Err(failed());
    }
    Ok(())
}

/// Base64 of `id:secret`, each form-encoded: what a client puts in its Basic header.
pub fn basic_header_value(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("Basic {}", general_purpose::STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = basic_header_value("my client", "s:e%c+ret");
        let p = presented(Some(h.as_bytes()), &params(&[])).unwrap();
        assert_eq!(p, PresentedClient::Basic { client_id: "my client".into(), secret: "s:e%c+ret".into() });
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let h = basic_header_value("a", "s");
        let e = presented(Some(h.as_bytes()), &params(&[("client_secret", "s")])).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
        let e = presented(Some(h.as_bytes()), &params(&[("client_id", "b")])).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
    }

    #[test]
    fn malformed_authorization_headers_are_invalid_client() {
        let long = format!("Basic {}", "A".repeat(20_000));
        for bad in [&b"Basic"[..], b"Basic !!!", b"Basic YWJj", b"Bearer x", b"Basic \xff", long.as_bytes()] {
            let e = presented(Some(bad), &params(&[])).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_client", "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn body_credentials_and_public_clients() {
        assert_eq!(
            presented(None, &params(&[("client_id", "a"), ("client_secret", "s")])).unwrap(),
            PresentedClient::Post { client_id: "a".into(), secret: "s".into() }
        );
        assert_eq!(
            presented(None, &params(&[("client_id", "a")])).unwrap(),
            PresentedClient::Public { client_id: "a".into() }
        );
        assert_eq!(presented(None, &params(&[])).unwrap(), PresentedClient::Anonymous);
    }
}
