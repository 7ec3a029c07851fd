//! The resource owner password credentials grant (RFC 6749 §4.3), for trusted
//! first-party clients that have it in their grant types (RFC 9700 §2.4 advises
//! against it; it is off unless a client is registered for it).

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use super::{GrantContext, GrantHandler};
use crate::authority::Issued;
use crate::error::{OAuthError, store_failure};
use crate::model::{Grant, GrantType, UserKind};
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::throttle::{self, SignInFailure};

pub struct PasswordGrant;

/// One answer for an unknown user, a wrong password, a disabled account or one that
/// may not sign in here (a customer at an ordinary client, staff through an API key): which part was wrong is not the client's business.
pub(super) fn bad_credentials() -> OAuthError {
    OAuthError::invalid_grant("invalid username or password")
}

#[async_trait]
impl GrantHandler for PasswordGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::Password
    }

    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<Issued<TokenResponse>, OAuthError> {
        if let Some(key) = ctx.api_key {
            return super::customer::sign_in(ctx, key, params).await;
        }
        let (authority, realm, client) = (ctx.authority, ctx.realm, ctx.client);
        let username = params.require("username")?;
        let password = params.require("password")?;
        let scope = ScopeSet::resolve(params.get("scope"), &client.scopes, &client.default_scopes)?.to_string_list();
        let addr = ctx.request.client_addr;
        let user =
            match authority.sign_in(&realm.name, &client.client_id, username, password, addr, UserKind::Staff).await {
                Ok(u) => u,
                Err(SignInFailure::Throttled) => return Err(throttle::throttled()),
                Err(SignInFailure::UsernameTooLong) => return Err(throttle::username_too_long()),
                Err(SignInFailure::BadCredentials) => return Err(bad_credentials()),
                Err(SignInFailure::Unavailable(e)) => return Err(e),
            };
        let grant = Grant {
            id: crate::token::new_token_id(),
            realm: realm.name.clone(),
            client_id: client.client_id.clone(),
            subject: user.id.clone(),
            username: Some(user.username.clone()),
            scope: scope.clone(),
            teams: user.teams.clone(),
            permissions: Vec::new(),
            test: false,
            created_at: authority.now(),
            revoked_at: None,
        };
        let tokens = authority.mint_for_grant(realm, client, &grant, &scope, Some(user.roles.clone())).await?;
        authority.store.create_grant(&grant, &tokens.records()).await.map_err(store_failure)?;
        authority.audit_issued(GrantType::Password, &tokens.access.record).await;
        Ok(Issued::Token(tokens.response(Some(user.roles), None)))
    }
}
