//! Token introspection (RFC 7662).

use portcullis_proto::IntrospectionResponse;

use std::net::IpAddr;
use std::sync::Arc;

use super::{Unusable, resolve_for};
use crate::authority::Authority;
use crate::client_auth;
use crate::error::OAuthError;
use crate::model::{Client, Realm, StoredToken, TokenKind};
use crate::params::Params;
use crate::token::token_id_hex;

/// A client sees its own tokens; a resource server sees every token of its realm.
/// Anything else reads as inactive, so the endpoint is no oracle for others' tokens.
pub fn visible_to(client: &Client, token: &StoredToken) -> bool {
    client.resource_server || token.record.client_id == client.client_id
}

/// Authenticates the caller (against its cached copy when there is one) and resolves
/// `token`, checking in the same read that the copy is current; if it is not, the
/// caller is authenticated again from the database before anything is answered.
/// Only confidential clients: introspection "MUST also require some form of
/// authorization" (RFC 7662 §2.1), which a bare `client_id` is not.
pub async fn authenticated_resolve(
    authority: &Authority,
    realm: &Realm,
    authorization: Option<&[u8]>,
    params: &Params,
    token: &str,
    client_addr: Option<IpAddr>,
) -> Result<(Arc<Client>, Result<StoredToken, Unusable>), OAuthError> {
    let presented = client_auth::presented(authorization, params)?;
    if matches!(presented, client_auth::PresentedClient::Public { .. }) {
        return Err(OAuthError::invalid_client("this endpoint requires client authentication"));
    }
    let first = authority
        .guard_client(&realm.name, &presented, client_addr, authority.authenticate_cached(&realm.name, &presented))
        .await?;
    let resolved = resolve_for(authority, realm, token, Some(&first.client)).await?;
    // A token refused without a database read (malformed, expired, a bad signature)
    // says nothing of the copy: a cached one is checked all the same, so a disabled
    // client is refused whatever it presents.
    let current = resolved.caller_current.unwrap_or(!first.cached);
    if current {
        return Ok((first.client, resolved.token));
    }
    let caller = authority.authenticate_fresh(&realm.name, &presented).await?;
    Ok((caller, resolved.token))
}

pub async fn introspect(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
    client_addr: Option<IpAddr>,
) -> Result<IntrospectionResponse, OAuthError> {
    let realm = authority.realm(realm).await?;
    let token = params.require("token")?;
    // token_type_hint is only a hint (RFC 7662 §2.1): every kind is searched.
    let (client, resolved) =
        authenticated_resolve(authority, &realm, authorization, params, token, client_addr).await?;
    match resolved {
        Ok(stored) if visible_to(&client, &stored) => {
            let mut described = describe(authority, &stored);
            if !stored.record.permissions.is_empty() {
                described.perm_bits = Some(authority.perm_bits(&realm.name, &stored.record.permissions).await?);
            }
            Ok(described)
        }
        _ => Ok(IntrospectionResponse::inactive()),
    }
}

/// The RFC 7662 §2.2 members for a live token.
pub fn describe(authority: &Authority, stored: &StoredToken) -> IntrospectionResponse {
    let r = &stored.record;
    IntrospectionResponse {
        active: true,
        scope: Some(r.scope.clone()),
        client_id: Some(r.client_id.clone()),
        username: r.username.clone(),
        token_type: (r.kind != TokenKind::Refresh).then(|| "Bearer".to_owned()),
        exp: r.expires_at,
        iat: Some(r.issued_at),
        nbf: Some(r.issued_at),
        sub: Some(r.subject.clone()),
        aud: Some(authority.audience(&r.realm)),
        iss: Some(authority.issuer(&r.realm)),
        jti: Some(token_id_hex(&r.id)),
        kind: Some(r.kind.as_str().to_owned()),
        permissions: Some(r.permissions.clone()),
        authorities: stored.user.as_ref().map(|u| u.roles.clone()),
        test: Some(r.test),
        perm_bits: None,
        teams: (!stored.teams.is_empty()).then(|| stored.teams.clone()),
    }
}
