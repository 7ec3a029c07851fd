//! The token endpoint (RFC 6749 §3.2): parse, authenticate, check the grant is
//! allowed, then hand over to the grant's handler.

use portcullis_proto::TokenResponse;

use crate::authority::{Authority, Issued};
use crate::client_auth;
use crate::error::OAuthError;
use crate::grant::{self, GrantContext, RequestContext};
use crate::model::{Client, GrantType};
use crate::params::Params;

pub async fn token(
    authority: &Authority,
    realm: &str,
    authorization: Option<&[u8]>,
    params: &Params,
    request: &RequestContext,
) -> Result<TokenResponse, OAuthError> {
    let realm = authority.realm(realm).await?;
    let grant_type: GrantType = params
        .require("grant_type")?
        .parse()
        .map_err(|_| OAuthError::unsupported_grant_type("the grant_type is not one this server knows"))?;
    let handler = grant::handler_for(grant_type)?;
    let presented = client_auth::presented(authorization, params)?;
    if let Some((client, key)) = authority.authenticate_app(&realm.name, &presented).await? {
        let ctx = GrantContext { authority, realm: &realm, client: &client, request, api_key: Some(&key) };
        return run(handler, &ctx, params).await?.into_result();
    }
    let run = async |client: &Client| {
        run(handler, &GrantContext { authority, realm: &realm, client, request, api_key: None }, params).await
    };
    // Only client_credentials uses the cached client: its one write checks the
    // client's revision (`client_cache`); the other grants read the client afresh.
    if grant_type != GrantType::ClientCredentials {
        let client = authority.authenticate_client(&realm.name, &presented);
        return run(&client.await?).await?.into_result();
    }
    let first = authority.authenticate_cached(&realm.name, &presented).await?;
    match run(&first.client).await {
        Ok(Issued::Token(response)) => Ok(response),
        // The copy was older than the database: decided again, once, on the client as
        // it is now.
        Ok(Issued::ClientChanged) => {
            run(&*authority.authenticate_fresh(&realm.name, &presented).await?).await?.into_result()
        }
        // A refusal decided on a cached copy (a scope or grant type it does not allow)
        // is checked against the database before it is answered: the client may have
        // been widened since, here or on another instance.
        Err(e) if first.cached && e.is_refusal() => {
            let fresh = authority.authenticate_fresh(&realm.name, &presented).await?;
            if fresh.revision == first.client.revision {
                return Err(e);
            }
            run(&fresh).await?.into_result()
        }
        Err(e) => Err(e),
    }
}

async fn run(
    handler: &dyn grant::GrantHandler,
    ctx: &GrantContext<'_>,
    params: &Params,
) -> Result<Issued<TokenResponse>, OAuthError> {
    let grant_type = handler.grant_type();
    if !ctx.client.allows_grant(grant_type) {
        return Err(OAuthError::unauthorized_client(format!("this client is not allowed the {grant_type} grant")));
    }
    handler.handle(ctx, params).await
}
