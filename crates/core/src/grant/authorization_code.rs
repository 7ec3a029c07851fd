//! The authorization code grant's token request (RFC 6749 §4.1.3, RFC 7636 §4.5).

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use super::{GrantContext, GrantHandler, user_authorities};
use crate::authority::Issued;
use crate::error::{OAuthError, store_failure};
use crate::model::GrantType;
use crate::params::Params;
use crate::pkce;
use crate::store::CodeRedemption;
use crate::token::opaque;

pub struct AuthorizationCodeGrant;

fn bad_code() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is invalid, expired, already used, or issued to another client")
}

#[async_trait]
impl GrantHandler for AuthorizationCodeGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::AuthorizationCode
    }

    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<Issued<TokenResponse>, OAuthError> {
        let (authority, realm, client) = (ctx.authority, ctx.realm, ctx.client);
        let presented = params.require("code")?;
        let parsed = opaque::parse_code(presented).ok_or_else(bad_code)?;
        let now = authority.now();
        let code = authority.store.get_code(&parsed.id).await.map_err(store_failure)?.ok_or_else(bad_code)?;
        if !parsed.verifies(&code.verifier_hash) {
            return Err(bad_code());
        }
        // The binding before the replay rule: a used code presented in another realm
        // or by another client is refused and its grant left alone, so whoever steals
        // a used code cannot revoke its owner's tokens with it.
        if code.realm != realm.name || code.client_id != client.client_id {
            tracing::warn!(
                realm = %code.realm, presented_in = %realm.name, client = %client.client_id,
                "authorization code presented by a client it was not issued to"
            );
            return Err(bad_code());
        }
        if code.used_at.is_some() {
            // A replay by its own client: the store revokes everything the first
            // exchange issued (RFC 6749 §4.1.2).
            let outcome = authority.store.redeem_code(&code.id, now, &[]).await.map_err(store_failure)?;
            if matches!(outcome, CodeRedemption::Replayed(_)) {
                authority.audit_grant_revoked(&code.realm, &client.client_id, &code.grant_id, "code_replay").await;
            }
            tracing::warn!(realm = %code.realm, client = %client.client_id, "authorization code replayed; its grant is revoked");
            return Err(bad_code());
        }
        if code.expires_at <= now {
            return Err(bad_code());
        }
        // §4.1.3: redirect_uri must be repeated, identically, if the request had it.
        match params.get("redirect_uri") {
            Some(uri) if uri != code.redirect_uri => {
                return Err(OAuthError::invalid_grant("redirect_uri differs from the authorization request"));
            }
            None if code.redirect_uri_given => {
                return Err(OAuthError::invalid_grant("redirect_uri is required: the authorization request had one"));
            }
            _ => {}
        }
        match (&code.code_challenge, params.get("code_verifier")) {
            (Some(challenge), Some(verifier)) => {
                let method = code.code_challenge_method.as_deref().unwrap_or("plain");
                if !pkce::verify(verifier, challenge, method) {
                    return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
            // RFC 9700 §4.8.2: a verifier without a challenge is a downgrade attempt.
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant("code_verifier sent for a code issued without code_challenge"));
            }
            (None, None) => {}
        }
        let grant = authority.store.get_grant(&code.grant_id).await.map_err(store_failure)?;
        let grant = grant.filter(|g| g.revoked_at.is_none()).ok_or_else(bad_code)?;
        let authorities = user_authorities(ctx, &grant.subject).await?;
        let tokens = authority.mint_for_grant(realm, client, &grant, &grant.scope, authorities.clone()).await?;
        // Marking the code used and storing the tokens is one conditional write: of
        // concurrent exchanges exactly one gets here, and a replay arriving later
        // revokes the tokens this one issued.
        match authority.store.redeem_code(&code.id, now, &tokens.records()).await.map_err(store_failure)? {
            CodeRedemption::Redeemed(_) => {
                authority.audit_issued(GrantType::AuthorizationCode, &tokens.access.record).await;
                Ok(Issued::Token(tokens.response(authorities, None)))
            }
            CodeRedemption::Replayed(_) | CodeRedemption::Unknown => Err(bad_code()),
        }
    }
}
