//! The client credentials grant (RFC 6749 §4.4).

use async_trait::async_trait;
use portcullis_proto::TokenResponse;

use super::{GrantContext, GrantHandler};
use crate::audit::AuditKind;
use crate::authority::{Issued, TokenClaims};
use crate::error::OAuthError;
use crate::model::{GrantType, TokenKind};
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::token::token_id_hex;

pub struct ClientCredentialsGrant;

#[async_trait]
impl GrantHandler for ClientCredentialsGrant {
    fn grant_type(&self) -> GrantType {
        GrantType::ClientCredentials
    }

    /// "The client credentials grant type MUST only be used by confidential clients"
    /// (§4.4), and "a refresh token SHOULD NOT be included" (§4.4.3).
    async fn handle(&self, ctx: &GrantContext<'_>, params: &Params) -> Result<Issued<TokenResponse>, OAuthError> {
        let client = ctx.client;
        if client.is_public() {
            return Err(OAuthError::unauthorized_client("public clients cannot use the client_credentials grant"));
        }
        let scope = ScopeSet::resolve(params.get("scope"), &client.scopes, &client.default_scopes)?;
        let scope = scope.to_string_list();
        let claims = TokenClaims { subject: client.client_id.clone(), scope: scope.clone(), ..Default::default() };
        let issued = ctx.authority.issue_access_token(ctx.realm, client, TokenKind::Access, claims).await?;
        if ctx.authority.audit_client_credentials
            && let Issued::Token(t) = &issued
        {
            // Recorded at full rate unless turned off, like Keycloak's CLIENT_LOGIN: a
            // stolen secret in use shows only here. A routine event: dropped, not waited
            // for, when the audit buffer is full (`audit::log`).
            let e = ctx.authority.audit_event(AuditKind::TokenIssued, &ctx.realm.name);
            let e = e.grant_type(GrantType::ClientCredentials.as_str()).client(&client.client_id);
            ctx.authority.audit(e.subject(&client.client_id).target(token_id_hex(&t.id))).await;
        }
        Ok(issued.map(|issued| TokenResponse {
            access_token: issued.token,
            token_type: "Bearer".to_owned(),
            expires_in: Some(issued.expires_in.max(0) as u64),
            refresh_token: None,
            scope: Some(scope),
            authorities: None,
        }))
    }
}
