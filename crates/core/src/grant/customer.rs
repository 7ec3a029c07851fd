//! Customer sign-in: the password grant at the token endpoint, made by an app's
//! server authenticated as `app_id:API_KEY`. Only accounts of kind `customer` sign in
//! this way (and they sign in no other way: see `throttle::sign_in`'s kind). The
//! tokens are bounded by the key: scopes within its scope, permissions within its
//! permissions, and its test flag.

use portcullis_proto::TokenResponse;

use super::GrantContext;
use super::password::bad_credentials;
use crate::authority::Issued;
use crate::error::{OAuthError, store_failure};
use crate::model::{Grant, TokenKind, UserKind, split_list};
use crate::org::ApiKey;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::throttle::{self, SignInFailure};

pub(super) async fn sign_in(
    ctx: &GrantContext<'_>,
    key: &ApiKey,
    params: &Params,
) -> Result<Issued<TokenResponse>, OAuthError> {
    let (authority, realm, client) = (ctx.authority, ctx.realm, ctx.client);
    let username = params.require("username")?;
    let password = params.require("password")?;
    let key_scopes = split_list(&key.scope);
    let scope = ScopeSet::resolve(params.get("scope"), &key_scopes, &key_scopes)?.to_string_list();
    let addr = ctx.request.client_addr;
    let user =
        match authority.sign_in(&realm.name, &client.client_id, username, password, addr, UserKind::Customer).await {
            Ok(u) => u,
            Err(SignInFailure::Throttled) => return Err(throttle::throttled()),
            Err(SignInFailure::UsernameTooLong) => return Err(throttle::username_too_long()),
            Err(SignInFailure::BadCredentials) => return Err(bad_credentials()),
            Err(SignInFailure::Unavailable(e)) => return Err(e),
        };
    let of_roles = authority.store.permissions_of_roles(&realm.name, &user.roles).await.map_err(store_failure)?;
    let permissions: Vec<String> = key.permissions.iter().filter(|p| of_roles.contains(p)).cloned().collect();
    let grant = Grant {
        id: crate::token::new_token_id(),
        realm: realm.name.clone(),
        client_id: client.client_id.clone(),
        subject: user.id.clone(),
        username: Some(user.username.clone()),
        scope: scope.clone(),
        teams: user.teams.clone(),
        permissions,
        test: key.test,
        created_at: authority.now(),
        revoked_at: None,
    };
    let roles = Some(user.roles.clone());
    let tokens = authority.mint_for_grant_as(realm, client, &grant, &scope, roles.clone(), TokenKind::Customer).await?;
    authority.store.create_customer_grant(&grant, &key.id, &tokens.records()).await.map_err(store_failure)?;
    authority.audit_issued(crate::model::GrantType::Password, &tokens.access.record).await;
    Ok(Issued::Token(tokens.response(roles, None)))
}
