//! `POST {issuer}/oauth/revoke_token`, Spring style: the `token` may come in the
//! query string or the form body (not both), the client authenticates with Basic.
//! Client credentials in the query string are refused.

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use portcullis_core::endpoint::revoke::revoke;
use portcullis_core::error::OAuthError;
use portcullis_core::params::Params;
use portcullis_core::urlencoded::parse_form;

use crate::extract::{Authorization, ClientAddr, RealmName, read_body};
use crate::response::no_store_json;
use crate::{ApiError, AppState};

pub async fn handle(
    State(state): State<AppState>,
    RealmName(realm): RealmName,
    auth: Authorization,
    ClientAddr(client_addr): ClientAddr,
    req: Request,
) -> Result<Response, ApiError> {
    let params = spring_params(req, &state).await?;
    revoke(&state.authority, &realm, auth.as_deref(), &params, client_addr).await?;
    Ok(no_store_json(StatusCode::OK, &serde_json::json!({})))
}

async fn spring_params(req: Request, state: &AppState) -> Result<Params, ApiError> {
    let query = req.uri().query().unwrap_or("").to_owned();
    let has_form = req.headers().contains_key(header::CONTENT_TYPE);
    if !has_form {
        let params = parse_form(query.as_bytes())?;
        // Only the token may come in the URL; the client authenticates with Basic
        // (RFC 6749 §2.3.1: credentials never in the request URI).
        if params.get("client_id").is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "client credentials must not be sent in the URL: authenticate with the Authorization header",
            )
            .into());
        }
        return Ok(params);
    }
    if !query.is_empty() {
        return Err(OAuthError::invalid_request("send the token in the query or in the body, not both").into());
    }
    let bytes =
        read_body(axum::body::Body::from_request(req, state).await.unwrap_or_default(), state.settings.body_limit)
            .await?;
    Ok(parse_form(&bytes)?)
}
