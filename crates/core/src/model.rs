//! The records Portcullis keeps, as the protocol sees them.

use std::fmt;
use std::str::FromStr;

/// A realm is an organization: its own keys, lifetimes, clients and tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm {
    pub name: String,
    pub access_ttl: i64,
    /// `None`: refresh tokens never expire.
    pub refresh_ttl: Option<i64>,
    pub token_format: TokenFormat,
    pub signing_alg: SigningAlg,
    /// `rotate`: a refresh token works once and each refresh returns a new one.
    pub refresh_policy: RefreshPolicy,
    /// Seconds during which the same client may present a just-rotated refresh token
    /// again and get a fresh pair instead of tripping reuse detection; 0 is off.
    pub refresh_grace: i64,
    /// `response_type=token`; off by default (RFC 9700 §2.1.2).
    pub allow_implicit: bool,
    /// PKCE for confidential clients too (public clients always need it).
    pub require_pkce: bool,
    /// `code_challenge_method=plain`; off by default, S256 only.
    pub allow_plain_pkce: bool,
    /// Authorization code lifetime in seconds.
    pub code_ttl: i64,
    /// Lifetime in seconds of customer tokens (signed in through an app's API key).
    pub customer_ttl: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const DEFAULT_REALM: &str = "default";
pub const DEFAULT_ACCESS_TTL: i64 = 3600;
pub const DEFAULT_REFRESH_TTL: i64 = 30 * 24 * 3600;
pub const DEFAULT_CODE_TTL: i64 = 60;
pub const DEFAULT_CUSTOMER_TTL: i64 = 3600;

impl Realm {
    pub fn new(name: &str, now: i64) -> Self {
        Self {
            name: name.to_owned(),
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: Some(DEFAULT_REFRESH_TTL),
            token_format: TokenFormat::Opaque,
            signing_alg: SigningAlg::Es256,
            refresh_policy: RefreshPolicy::Rotate,
            refresh_grace: 0,
            allow_implicit: false,
            require_pkce: false,
            allow_plain_pkce: false,
            code_ttl: DEFAULT_CODE_TTL,
            customer_ttl: DEFAULT_CUSTOMER_TTL,
            created_at: now,
            updated_at: now,
        }
    }

    /// Realm names: lowercase letters, digits and `-`, 1 to 63 characters, so that a
    /// name is safe in a URL path and a log line as it is.
    pub fn validate_name(name: &str) -> Result<(), String> {
        let ok = (1..=63).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(())
        } else {
            Err(format!("invalid realm name '{}': use 1 to 63 lowercase letters, digits or '-'", name.escape_default()))
        }
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} '{}': expected one of {}",
                        stringify!($name),
                        other.escape_default(),
                        [$($s),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// How a realm's access tokens look on the wire.
    TokenFormat { Opaque => "opaque", Jwt => "jwt" }
);

string_enum!(
    /// JWS algorithms a realm may sign with. `none` is not one of them.
    SigningAlg {
        Es256 => "ES256",
        Rs256 => "RS256",
        EdDsa => "EdDSA",
        Hs256 => "HS256",
        Hs512 => "HS512",
    }
);

impl SigningAlg {
    pub fn is_symmetric(self) -> bool {
        matches!(self, SigningAlg::Hs256 | SigningAlg::Hs512)
    }
}

string_enum!(
    /// Grant types by their RFC names.
    GrantType {
        AuthorizationCode => "authorization_code",
        ClientCredentials => "client_credentials",
        Password => "password",
        RefreshToken => "refresh_token",
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        Implicit => "implicit",
    }
);

string_enum!(
    /// Token endpoint authentication methods (RFC 7591 §2).
    AuthMethod {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        None => "none",
    }
);

string_enum!(
    /// What a token is for. Kinds never stand in for each other: a refresh token is
    /// not an access token, a customer token is not an API key.
    TokenKind {
        Access => "access",
        Refresh => "refresh",
        Api => "api",
        Customer => "customer",
    }
);

string_enum!(
    /// What happens to a refresh token when it is used.
    RefreshPolicy { Rotate => "rotate", Reuse => "reuse" }
);

string_enum!(
    /// Staff sign in at the login page and through clients; customers sign in through
    /// an app's API key.
    UserKind { Staff => "staff", Customer => "customer" }
);

/// An end user of a realm.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub realm: String,
    /// A UUID: the `sub` of the user's tokens.
    pub id: String,
    /// Unique per realm, compared case-insensitively.
    pub username: String,
    /// PHC string of an argon2id hash, parameters included; `None`: cannot sign in
    /// with a password.
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    pub teams: Vec<String>,
    pub kind: UserKind,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("realm", &self.realm)
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .field("roles", &self.roles)
            .field("kind", &self.kind)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// One authorization of a client by a user (or by a client for itself): the family
/// every token derived from it belongs to. Revoking it revokes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: [u8; 16],
    pub realm: String,
    pub client_id: String,
    /// The user id, or the client id for a client acting for itself.
    pub subject: String,
    pub username: Option<String>,
    pub scope: String,
    pub teams: Vec<String>,
    pub permissions: Vec<String>,
    pub test: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An issued authorization code (RFC 6749 §4.1.2): stored by selector with the hash
/// of its verifier, single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub id: [u8; 16],
    pub verifier_hash: [u8; 32],
    pub realm: String,
    pub client_id: String,
    pub grant_id: [u8; 16],
    pub redirect_uri: String,
    /// Whether the authorization request named `redirect_uri`; then the token request
    /// must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A browser's session at the login and consent pages. The cookie holds a random
/// secret; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id_hash: [u8; 32],
    pub realm: String,
    /// Set once the user signed in.
    pub user_id: Option<String>,
    pub authenticated_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A validated authorization request waiting for login and consent. Pages act on
/// this stored copy, never on hidden form fields (Spring CVE-2018-15758).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub id: [u8; 16],
    pub realm: String,
    /// The browser session it belongs to: forms from another browser are refused.
    pub session_hash: [u8; 32],
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    /// `code` or `token`.
    pub response_type: String,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    /// SHA-256 of the CSRF token its forms carry.
    pub csrf_hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
    /// The address it came from (IPv6 by /64), for the per-address cap.
    pub client_addr: Option<String>,
}

/// An OAuth client of a realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub realm: String,
    pub client_id: String,
    pub name: String,
    /// HMAC of the secret; `None` for public clients.
    pub secret_hash: Option<Vec<u8>>,
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    /// Compared by exact string (RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub default_scopes: Vec<String>,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    /// May introspect every token of its realm, not only its own.
    pub resource_server: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by the database on every change (0 when created; ignored on writes):
    /// what a cached copy is checked against.
    pub revision: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }
    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }
}

/// A signing key of a realm. For HS algorithms `private_pem` holds the base64 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub realm: String,
    pub alg: SigningAlg,
    pub private_pem: String,
    pub created_at: i64,
    /// Set when a newer key replaced it: it no longer signs.
    pub retired_at: Option<i64>,
    /// After this instant its tokens have all expired: it no longer verifies and
    /// leaves the JWK set.
    pub verify_until: Option<i64>,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("realm", &self.realm)
            .field("alg", &self.alg)
            .field("private_pem", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish()
    }
}

/// The stored side of an issued token. `id` is the opaque token's selector or the
/// JWT's `jti`: a UUIDv7, so new rows append to the end of the primary key index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: [u8; 16],
    pub realm: String,
    pub kind: TokenKind,
    /// SHA-256 of an opaque token's verifier; `None` for a JWT.
    pub verifier_hash: Option<[u8; 32]>,
    pub client_id: String,
    pub subject: String,
    pub username: Option<String>,
    pub scope: String,
    /// The grant (authorization) the token derives from, when there is one.
    pub grant_id: Option<[u8; 16]>,
    pub permissions: Vec<String>,
    pub test: bool,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// When a rotated refresh token was exchanged; it is then spent.
    pub used_at: Option<i64>,
}

/// A token as introspection needs it: the record and whether its client may still
/// hold tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub record: TokenRecord,
    pub client_disabled: bool,
    /// The token's grant was revoked (family revocation).
    pub grant_revoked: bool,
    /// The teams its grant recorded (empty without a grant).
    pub teams: Vec<String>,
    /// The user the token was issued for, when its subject is a user of the realm.
    pub user: Option<TokenUser>,
}

impl StoredToken {
    /// Whether nothing has ended this token apart from time and use: it belongs to
    /// `realm`, neither it nor its grant is revoked, its client and user are enabled.
    /// Spending (`used_at`) and expiry are for the caller: a refresh exchange treats a
    /// spent token as reuse, not as unknown.
    pub fn standing(&self, realm: &str) -> bool {
        let r = &self.record;
        r.realm == realm
            && r.revoked_at.is_none()
            && !self.client_disabled
            && !self.grant_revoked
            && !self.user.as_ref().is_some_and(|u| u.disabled)
    }

    pub fn expired(&self, now: i64) -> bool {
        self.record.expires_at.is_some_and(|exp| exp <= now)
    }
}

/// What a token's validity and claims need of its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    pub roles: Vec<String>,
    pub disabled: bool,
    pub kind: UserKind,
}

pub fn join_list<T: AsRef<str>>(items: &[T], sep: &str) -> String {
    items.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(sep)
}

pub fn split_list(s: &str) -> Vec<String> {
    s.split([' ', '\n', ',']).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_names_are_restricted() {
        for ok in ["default", "a", "acme-2", &"x".repeat(63)] {
            assert!(Realm::validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "a_b", "a/b", "a b", &"x".repeat(64), "é", "../x"] {
            assert!(Realm::validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_round_trip_and_reject_unknown_values() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), *g);
        }
        assert!("none".parse::<SigningAlg>().is_err());
        assert!("hs256".parse::<SigningAlg>().is_err());
    }
}
