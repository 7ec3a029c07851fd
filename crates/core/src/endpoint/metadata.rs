//! Authorization server metadata (RFC 8414) and the JWK set (RFC 7517).

use jsonwebtoken::jwk::JwkSet;
use portcullis_proto::ServerMetadata;

use crate::authority::Authority;
use crate::error::OAuthError;
use crate::grant::supported_grant_types;
use crate::model::{AuthMethod, GrantType};

pub async fn metadata(authority: &Authority, realm: &str) -> Result<ServerMetadata, OAuthError> {
    let realm = authority.realm(realm).await?;
    let issuer = authority.issuer(&realm.name);
    let confidential =
        vec![AuthMethod::ClientSecretBasic.as_str().to_owned(), AuthMethod::ClientSecretPost.as_str().to_owned()];
    let mut with_public = confidential.clone();
    with_public.push(AuthMethod::None.as_str().to_owned());
    let mut response_types = vec!["code".to_owned()];
    let mut grant_types: Vec<String> = supported_grant_types().iter().map(|g| g.as_str().to_owned()).collect();
    if realm.allow_implicit {
        response_types.push("token".to_owned());
        grant_types.push(GrantType::Implicit.as_str().to_owned());
    }
    let mut pkce_methods = vec!["S256".to_owned()];
    if realm.allow_plain_pkce {
        pkce_methods.push("plain".to_owned());
    }
    Ok(ServerMetadata {
        authorization_endpoint: format!("{issuer}/oauth/authorize"),
        response_modes_supported: vec!["query".into(), "fragment".into(), "form_post".into()],
        code_challenge_methods_supported: pkce_methods,
        authorization_response_iss_parameter_supported: true,
        token_endpoint: format!("{issuer}/oauth/token"),
        jwks_uri: format!("{issuer}/jwks.json"),
        introspection_endpoint: format!("{issuer}/oauth/introspect"),
        revocation_endpoint: format!("{issuer}/oauth/revoke"),
        check_token_endpoint: format!("{issuer}/oauth/check_token"),
        response_types_supported: response_types,
        grant_types_supported: grant_types,
        token_endpoint_auth_methods_supported: with_public.clone(),
        introspection_endpoint_auth_methods_supported: confidential,
        revocation_endpoint_auth_methods_supported: with_public,
        issuer,
    })
}

/// The realm's public verification keys: current and retired-but-still-verifying.
/// Read from the database on every request, never from the key cache: a resource
/// server that meets a new `kid` refetches this from whichever instance the load
/// balancer picks, and must find the key a rotation made on another one.
pub async fn jwks(authority: &Authority, realm: &str) -> Result<JwkSet, OAuthError> {
    let realm = authority.realm(realm).await?;
    let ring = authority.current_key_ring(&realm.name).await?;
    Ok(ring.jwks(authority.now()))
}
