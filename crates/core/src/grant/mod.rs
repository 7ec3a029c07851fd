//! Grants: one module per grant type, each a [`GrantHandler`] holding only the
//! protocol rules of its grant.

mod authorization_code;
mod client_credentials;
mod customer;
mod password;
mod refresh_token;

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use crate::authority::{Authority, Issued};
use crate::error::{OAuthError, store_failure};
use crate::model::{Client, GrantType, Realm};
use crate::org::ApiKey;
use crate::params::Params;

pub use authorization_code::AuthorizationCodeGrant;
pub use client_credentials::ClientCredentialsGrant;
pub use password::PasswordGrant;
pub use refresh_token::RefreshTokenGrant;

/// What every grant is handed: an authenticated client allowed this grant type.
pub struct GrantContext<'a> {
    pub authority: &'a Authority,
    pub realm: &'a Realm,
    pub client: &'a Client,
    pub request: &'a RequestContext,
    /// The API key an app's server authenticated with (`client` is then the app's):
    /// the password grant signs a customer in, and tokens are customer tokens.
    pub api_key: Option<&'a ApiKey>,
}

/// What the HTTP layer knows about a request that protocol rules need.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The peer address, for per-address sign-in throttling.
    pub client_addr: Option<std::net::IpAddr>,
}

#[async_trait]
pub trait GrantHandler: Send + Sync {
    fn grant_type(&self) -> GrantType;
    /// The token response, [`Issued::ClientChanged`] when a write conditional on the
    /// client's revision found it changed, or the refusal.
    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<Issued<TokenResponse>, OAuthError>;
}

/// The handler of an implemented grant type; `unsupported_grant_type` for the rest.
pub fn handler_for(grant: GrantType) -> Result<&'static dyn GrantHandler, OAuthError> {
    match grant {
        GrantType::ClientCredentials => Ok(&ClientCredentialsGrant),
        GrantType::AuthorizationCode => Ok(&AuthorizationCodeGrant),
        GrantType::Password => Ok(&PasswordGrant),
        GrantType::RefreshToken => Ok(&RefreshTokenGrant),
        other => {
            Err(OAuthError::unsupported_grant_type(format!("grant type '{other}' is not supported by this server yet")))
        }
    }
}

/// The user's roles, as the `authorities` of token responses (Spring compatible).
pub(crate) async fn user_authorities(ctx: &GrantContext<'_>, subject: &str) -> Result<Option<Vec<String>>, OAuthError> {
    let user = ctx.authority.store.get_user(&ctx.realm.name, subject).await.map_err(store_failure)?;
    Ok(user.map(|u| u.roles))
}

/// Grant types this server implements at its token endpoint, for metadata.
pub fn supported_grant_types() -> Vec<GrantType> {
    GrantType::ALL.iter().copied().filter(|g| handler_for(*g).is_ok()).collect()
}
