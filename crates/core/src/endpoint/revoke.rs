//! Token revocation (RFC 7009).

use super::resolve_authentic;
use crate::audit::AuditKind;
use crate::authority::Authority;
use crate::client_auth;
use crate::error::{OAuthError, store_failure};
use crate::model::TokenKind;
use crate::params::Params;
use crate::token::token_id_hex;

/// Revokes `token` if it belongs to the authenticated client. Unknown tokens, and
/// tokens of other clients, are answered as success and left alone (RFC 7009 §2.2),
/// so revocation is no oracle for which tokens exist. `token_type_hint` is ignored:
/// every kind is searched.
pub async fn revoke(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
    client_addr: Option<std::net::IpAddr>,
) -> Result<(), OAuthError> {
    let realm = authority.realm(realm).await?;
    let presented = client_auth::presented(authorization, params)?;
    // An app's server (`app_id:API_KEY`) revokes its customers' tokens, e.g. at logout.
    let authenticate = async {
        match authority.authenticate_app(&realm.name, &presented).await? {
            Some((app, _key)) => Ok(app),
            None => authority.authenticate_client(&realm.name, &presented).await,
        }
    };
    let client = authority.guard_client(&realm.name, &presented, client_addr, authenticate).await?;
    let token = params.require("token")?;
    // An API key is not revoked here: `apikey revoke` and `app reset` are for operators.
    // Authentic is enough: a refresh token a concurrent refresh has just spent still
    // names its grant, and the tokens that refresh issued must die with it (R3).
    if let Some(stored) = resolve_authentic(authority, &realm, token).await?
        && stored.record.client_id == client.client_id
        && stored.record.kind != TokenKind::Api
    {
        let now = authority.now();
        let revoked = match (stored.record.kind, stored.record.grant_id) {
            // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access
            // tokens of the same grant; revoking the grant does exactly that.
            (TokenKind::Refresh, Some(grant)) => authority.store.revoke_grant(&grant, now).await,
            _ => authority.store.revoke_token(&stored.record.id, now).await,
        }
        .map_err(store_failure)?;
        if revoked {
            let r = &stored.record;
            let mut e = authority.audit_event(AuditKind::TokenRevoked, &realm.name).client(&r.client_id);
            e = e.subject(&r.subject).target(token_id_hex(&r.id));
            if let Some(endpoint) = crate::audit::RequestInfo::endpoint() {
                e = e.action(endpoint);
            }
            let grant = r.grant_id.filter(|_| r.kind == TokenKind::Refresh).map(|g| token_id_hex(&g));
            authority.audit(e.detail(serde_json::json!({ "kind": r.kind.as_str(), "grant": grant }))).await;
        }
    }
    Ok(())
}
