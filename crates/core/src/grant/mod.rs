//! Grants: one module per grant type, each a [`GrantHandler`] holding only the
//! protocol rules of its grant.

mod client_credentials;

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use crate::authority::Authority;
use crate::error::OAuthError;
use crate::model::{Client, GrantType, Realm};
use crate::params::Params;

pub use client_credentials::ClientCredentialsGrant;

/// What every grant is handed: an authenticated client allowed this grant type.
pub struct GrantContext<'a> {
    pub authority: &'a Authority,
    pub realm: &'a Realm,
    pub client: &'a Client,
}

#[async_trait]
pub trait GrantHandler: Send + Sync {
    fn grant_type(&self) -> GrantType;
    /// The parameters this grant reads; others are ignored (RFC 6749 §3.2).
    fn allowed_params(&self) -> &'static [&'static str];
    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<TokenResponse, OAuthError>;
}

/// The handler of an implemented grant type; `unsupported_grant_type` for the rest.
pub fn handler_for(grant: GrantType) -> Result<&'static dyn GrantHandler, OAuthError> {
    match grant {
        GrantType::ClientCredentials => Ok(&ClientCredentialsGrant),
        other => {
            Err(OAuthError::unsupported_grant_type(format!("grant type '{other}' is not supported by this server yet")))
        }
    }
}

/// Grant types this server implements at its token endpoint, for metadata.
pub fn supported_grant_types() -> Vec<GrantType> {
    GrantType::ALL.iter().copied().filter(|g| handler_for(*g).is_ok()).collect()
}
