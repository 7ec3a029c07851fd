//! Spring Security OAuth's `/oauth/check_token`, for resource servers written
//! against such servers (`RemoteTokenServices`).

use portcullis_proto::CheckTokenResponse;

use super::Unusable;
use super::introspect::{authenticated_resolve, visible_to};
use crate::authority::Authority;
use crate::error::OAuthError;
use crate::model::TokenKind;
use crate::params::Params;
use crate::token::token_id_hex;

/// Answers like Spring's `CheckTokenEndpoint`: the token's claims, or 400
/// `invalid_token` with Spring's own messages. A refresh token is not a bearer token
/// here and is not recognised.
pub async fn check_token(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
    client_addr: Option<std::net::IpAddr>,
) -> Result<CheckTokenResponse, OAuthError> {
    let realm = authority.realm(realm).await?;
    let token = params.require("token")?;
    let (client, resolved) =
        authenticated_resolve(authority, &realm, authorization, params, token, client_addr).await?;
    let stored = match resolved {
        Ok(s) if visible_to(&client, &s) && s.record.kind != TokenKind::Refresh => s,
        Err(Unusable::Expired) => return Err(OAuthError::invalid_token("Token has expired")),
        _ => return Err(OAuthError::invalid_token("Token was not recognised")),
    };
    let perm_bits = if stored.record.permissions.is_empty() {
        None
    } else {
        Some(authority.perm_bits(&realm.name, &stored.record.permissions).await?)
    };
    let teams = (!stored.teams.is_empty()).then(|| stored.teams.clone());
    let authorities = stored.user.map(|u| u.roles).unwrap_or_default();
    let r = stored.record;
    Ok(CheckTokenResponse {
        active: true,
        aud: vec![authority.audience(&r.realm)],
        client_id: r.client_id,
        scope: r.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        exp: r.expires_at,
        iat: Some(r.issued_at),
        user_name: r.username,
        sub: Some(r.subject),
        jti: Some(token_id_hex(&r.id)),
        authorities,
        kind: r.kind.as_str().to_owned(),
        permissions: r.permissions,
        test: r.test,
        perm_bits,
        teams,
    })
}
