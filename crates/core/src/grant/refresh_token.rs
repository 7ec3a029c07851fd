//! The refresh token grant (RFC 6749 §6) with one-time rotation and reuse detection
//! (RFC 9700 §4.14.2).

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use super::{GrantContext, GrantHandler};
use crate::audit::AuditKind;
use crate::authority::Issued;
use crate::error::{OAuthError, store_failure};
use crate::model::{GrantType, RefreshPolicy, TokenKind};
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::store::Rotation;
use crate::token::{opaque, token_id_hex};

pub struct RefreshTokenGrant;

fn bad_refresh() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired, revoked, or issued to another client")
}

#[async_trait]
impl GrantHandler for RefreshTokenGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::RefreshToken
    }

    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<Issued<TokenResponse>, OAuthError> {
        let (authority, realm, client) = (ctx.authority, ctx.realm, ctx.client);
        let presented = params.require("refresh_token")?;
        let parsed = opaque::parse(presented).filter(|p| p.kind == TokenKind::Refresh).ok_or_else(bad_refresh)?;
        let stored = authority.store.get_token(&parsed.id).await.map_err(store_failure)?.ok_or_else(bad_refresh)?;
        let old = &stored.record;
        let now = authority.now();
        let usable = old.verifier_hash.is_some_and(|h| parsed.verifies(&h))
            && old.kind == TokenKind::Refresh
            && old.client_id == client.client_id
            && stored.standing(&realm.name)
            && !stored.expired(now);
        if !usable {
            return Err(bad_refresh());
        }
        let grant_id = old.grant_id.ok_or_else(bad_refresh)?;
        let mut grant = authority.store.get_grant(&grant_id).await.map_err(store_failure)?.ok_or_else(bad_refresh)?;
        // A customer's new tokens carry no permission the key in use has lost since
        // the sign-in (`apikey update` may narrow it), as their scope is bounded below.
        if let Some(key) = ctx.api_key {
            grant.permissions.retain(|p| key.permissions.contains(p));
        }

        // §6: the new scope "MUST NOT include any scope not originally granted", and
        // never one the client has since lost (for a customer's token, the scopes of the
        // app's key in use: an app's client has none of its own).
        let allowed = match ctx.api_key {
            Some(key) => crate::model::split_list(&key.scope),
            None => client.scopes.clone(),
        };
        let granted: Vec<String> = grant
            .scope
            .split(' ')
            .filter(|s| !s.is_empty() && allowed.iter().any(|c| c == s))
            .map(String::from)
            .collect();
        let scope = match params.get("scope") {
            Some(raw) => {
                let asked = ScopeSet::parse(raw)?;
                if let Some(bad) = asked.first_outside(&granted) {
                    return Err(OAuthError::invalid_scope(format!("scope '{bad}' was not granted")));
                }
                asked.to_string_list()
            }
            None => granted.join(" "),
        };
        let authorities = stored.user.as_ref().map(|u| u.roles.clone());
        // Refreshed through an app's key, a customer's token stays a customer token.
        let kind = if ctx.api_key.is_some() { TokenKind::Customer } else { TokenKind::Access };
        let tokens = authority.mint_for_grant_as(realm, client, &grant, &scope, authorities.clone(), kind).await?;
        // Public clients always rotate: their refresh tokens are not sender-bound. A
        // token spent under `rotate` stays spent after a switch to `reuse` (which only
        // stops spending new ones): it goes through the rotation's rules, so beyond
        // the grace period it is reuse and revokes its grant.
        let rotate = realm.refresh_policy == RefreshPolicy::Rotate || client.is_public() || old.used_at.is_some();
        if !rotate {
            authority.store.insert_tokens(std::slice::from_ref(&tokens.access.record)).await.map_err(store_failure)?;
            authority.audit_issued(GrantType::RefreshToken, &tokens.access.record).await;
            return Ok(Issued::Token(tokens.response(authorities, Some(presented.to_owned()))));
        }
        let grace_since = (realm.refresh_grace > 0).then(|| now - realm.refresh_grace);
        let outcome = authority
            .store
            .rotate_refresh_token(&old.id, now, grace_since, &tokens.records())
            .await
            .map_err(store_failure)?;
        match outcome {
            Rotation::Rotated | Rotation::WithinGrace => {
                authority.audit_issued(GrantType::RefreshToken, &tokens.access.record).await;
                Ok(Issued::Token(tokens.response(authorities, None)))
            }
            Rotation::Reused => {
                tracing::warn!(realm = %realm.name, client = %client.client_id, "refresh token reuse; grant revoked");
                authority.metrics.refresh_token_reused(&realm.name);
                let reused = authority
                    .audit_event(AuditKind::RefreshReused, &realm.name)
                    .client(&client.client_id)
                    .subject(&grant.subject)
                    .target(token_id_hex(&grant_id));
                authority.audit(reused.detail(serde_json::json!({ "token": token_id_hex(&old.id) }))).await;
                authority.audit_grant_revoked(&realm.name, &client.client_id, &grant_id, "refresh_reuse").await;
                Err(OAuthError::invalid_grant("the refresh token was already used; its grant has been revoked"))
            }
        }
    }
}
