//! The token endpoint (RFC 6749 §3.2): parse, authenticate, check the grant is
//! allowed, then hand over to the grant's handler.

use portcullis_proto::TokenResponse;

use crate::authority::{Authenticated, Authority, Issued};
use crate::client_auth;
use crate::error::OAuthError;
use crate::grant::{self, GrantContext, RequestContext};
use crate::model::{Client, GrantType};
use crate::org::ApiKey;
use crate::params::Params;

/// Who authenticated: an app's server with an API key, a client read from the
/// database, or (client_credentials) a client as this instance last read it.
enum Caller {
    App(Box<(Client, ApiKey)>),
    Fresh(Box<Client>),
    Cached(Authenticated),
}

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
    // Only client_credentials uses the cached client: its one write checks the
    // client's revision (`client_cache`); the other grants read the client afresh.
    let cached = grant_type == GrantType::ClientCredentials;
    let authenticated = authority.guard_client(&realm.name, &presented, request.client_addr, async {
        if let Some((client, key)) = authority.authenticate_app(&realm.name, &presented).await? {
            return Ok(Caller::App(Box::new((client, key))));
        }
        if !cached {
            let client = authority.authenticate_client(&realm.name, &presented).await?;
            return Ok(Caller::Fresh(Box::new(client)));
        }
        Ok(Caller::Cached(authority.authenticate_cached(&realm.name, &presented).await?))
    });
    let first = match authenticated.await? {
        Caller::App(app) => {
            let (client, key) = *app;
            let ctx = GrantContext { authority, realm: &realm, client: &client, request, api_key: Some(&key) };
            return run(handler, &ctx, params).await?.into_result();
        }
        Caller::Fresh(client) => {
            let ctx = GrantContext { authority, realm: &realm, client: &client, request, api_key: None };
            return run(handler, &ctx, params).await?.into_result();
        }
        Caller::Cached(first) => first,
    };
    let run = async |client: &Client| {
        run(handler, &GrantContext { authority, realm: &realm, client, request, api_key: None }, params).await
    };
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
    let outcome = handler.handle(ctx, params).await;
    if let Ok(Issued::Token(_)) = &outcome {
        ctx.authority.metrics.token_issued(&ctx.realm.name, grant_type);
    }
    outcome
}
