//! The one error type of the client library: each variant is something a caller can
//! act on, never a bare string to parse.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused the grant (RFC 6749 §5.2 `invalid_grant`): the refresh token,
    /// code or credentials are invalid, expired, revoked or issued to another client.
    #[error("the server refused the grant (invalid_grant){}", describe(.0))]
    InvalidGrant(Option<String>),
    /// The server did not authenticate this client (`invalid_client`).
    #[error("the server refused the client's credentials (invalid_client){}", describe(.0))]
    InvalidClient(Option<String>),
    /// The requested scope is unknown or not allowed (`invalid_scope`).
    #[error("the server refused the scope (invalid_scope){}", describe(.0))]
    InvalidScope(Option<String>),
    /// The client may not use this grant (`unauthorized_client`).
    #[error("the client may not use this grant (unauthorized_client){}", describe(.0))]
    UnauthorizedClient(Option<String>),
    /// The server answered another OAuth error code.
    #[error("the server answered {code}{}", describe(.description))]
    Server { code: String, description: Option<String> },
    /// The server could not be reached, or the connection failed.
    #[error("network error: {0}")]
    Network(String),
    /// The server answered something that is not a valid OAuth answer.
    #[error("unexpected answer from the server: {0}")]
    InvalidResponse(String),
    /// The issuer's metadata could not be fetched or lacks what is needed.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The subject has no stored refresh token and no other way to get a token.
    #[error("no refresh token is stored for this subject")]
    NoRefreshToken,
    /// The token is not in the store.
    #[error("the token is not stored")]
    UnknownToken,
    /// The server's metadata names no endpoint for this operation.
    #[error("the server has no {0} endpoint")]
    Unsupported(&'static str),
    /// The token store failed.
    #[error("token store: {0}")]
    Store(String),
    /// The configuration cannot work (e.g. an issuer that is not a URL).
    #[error("configuration: {0}")]
    Config(String),
}

fn describe(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
}

impl Error {
    /// The error for an OAuth error response with `code`.
    pub(crate) fn from_oauth(code: &str, description: Option<String>) -> Self {
        match code {
            "invalid_grant" => Self::InvalidGrant(description),
            "invalid_client" => Self::InvalidClient(description),
            "invalid_scope" => Self::InvalidScope(description),
            "unauthorized_client" => Self::UnauthorizedClient(description),
            other => Self::Server { code: other.to_owned(), description },
        }
    }

    /// Whether a retry may succeed without changing anything (a network failure or a
    /// `temporarily_unavailable` answer).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Network(_))
            || matches!(self, Self::Server { code, .. } if code == "temporarily_unavailable" || code == "server_error")
    }
}

pub type Result<T> = std::result::Result<T, Error>;
