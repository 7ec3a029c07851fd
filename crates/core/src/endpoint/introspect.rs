//! Token introspection (RFC 7662).

use portcullis_proto::IntrospectionResponse;

use super::resolve;
use crate::authority::Authority;
use crate::client_auth;
use crate::error::OAuthError;
use crate::model::{Client, StoredToken, TokenKind};
use crate::params::Params;
use crate::token::token_id_hex;

/// A client sees its own tokens; a resource server sees every token of its realm.
/// Anything else reads as inactive, so the endpoint is no oracle for others' tokens.
pub fn visible_to(client: &Client, token: &StoredToken) -> bool {
    client.resource_server || token.record.client_id == client.client_id
}

/// Authenticates a confidential client: introspection "MUST also require some form of
/// authorization" (RFC 7662 §2.1), which a bare `client_id` is not.
pub async fn authenticate_confidential(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
) -> Result<Client, OAuthError> {
    let presented = client_auth::presented(authorization, params)?;
    if matches!(presented, client_auth::PresentedClient::Public { .. }) {
        return Err(OAuthError::invalid_client("this endpoint requires client authentication"));
    }
    client_auth::authenticate(authority.store.as_ref(), &authority.hasher, realm, &presented).await
}

pub async fn introspect(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
) -> Result<IntrospectionResponse, OAuthError> {
    let realm = authority.realm(realm).await?;
    let client = authenticate_confidential(authority, &realm.name, authorization, params).await?;
    let token = params.require("token")?;
    // token_type_hint is only a hint (RFC 7662 §2.1): every kind is searched.
    match resolve(authority, &realm, token).await? {
        Ok(stored) if visible_to(&client, &stored) => Ok(describe(authority, &stored)),
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
    }
}
