use serde::{Deserialize, Serialize};

/// An introspection answer (RFC 7662 §2.2) with the Portcullis members `kind`,
/// `permissions`, `authorities` and `test`.
///
/// An inactive token is answered with `active: false` and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<bool>,
    /// `permissions` as a bit field: lowercase hex, bit n set for the realm's permission
    /// bound to n (the JWT claim of the same name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm_bits: Option<String>,
    /// The teams the subject belonged to when the grant was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// The answer of Spring Security OAuth's `/oauth/check_token`, whose clients
/// (`RemoteTokenServices`) read `scope` as an array and `user_name` for the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTokenResponse {
    pub active: bool,
    pub client_id: String,
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    pub authorities: Vec<String>,
    pub kind: String,
    pub permissions: Vec<String>,
    pub test: bool,
    /// `permissions` as a bit field, as introspection answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm_bits: Option<String>,
    /// The teams the subject belonged to when the grant was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
}
