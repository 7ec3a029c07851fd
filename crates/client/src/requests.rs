//! The requests to the authorization server. Token requests go through the `oauth2`
//! crate; introspection (whose answer carries Portcullis members the crate's type does
//! not) and revocation are form POSTs here.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, Client, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ErrorResponse, ExtraTokenFields,
    HttpClientError, RefreshToken, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
};
use portcullis_proto::TokenResponse;
use serde::{Deserialize, Serialize};

use crate::config::{AuthMethod, ClientConfig};
use crate::discovery::ServerMetadata;
use crate::error::{Error, Result};
use crate::introspection::Introspection;

/// The Spring-compatible `authorities` member of a token response.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Authorities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorities: Option<Vec<String>>,
}

impl ExtraTokenFields for Authorities {}

type OAuthTokenResponse = StandardTokenResponse<Authorities, BasicTokenType>;

type OAuthClient = Client<
    BasicErrorResponse,
    OAuthTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One client's view of one authorization server.
pub(crate) struct Requests {
    oauth: OAuthClient,
    http: reqwest::Client,
    config: ClientConfig,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

/// No redirects: an authorization server has no reason to send a token request
/// elsewhere (RFC 9700 §4.11), and following one would replay the credentials.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

impl Requests {
    pub(crate) fn new(config: &ClientConfig, metadata: &ServerMetadata, http: reqwest::Client) -> Result<Self> {
        let token = metadata.token_endpoint.as_deref().ok_or(Error::Discovery("no token_endpoint".into()))?;
        let token = TokenUrl::new(token.to_owned()).map_err(|e| Error::Discovery(format!("token_endpoint: {e}")))?;
        let mut oauth = Client::new(ClientId::new(config.client_id.clone())).set_token_uri(token).set_auth_type(
            match config.auth_method {
                AuthMethod::ClientSecretBasic => AuthType::BasicAuth,
                AuthMethod::ClientSecretPost | AuthMethod::None => AuthType::RequestBody,
            },
        );
        if let Some(secret) = &config.secret
            && config.auth_method != AuthMethod::None
        {
            oauth = oauth.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(Self {
            oauth,
            http,
            config: config.clone(),
            introspection_endpoint: metadata.introspection_endpoint.clone(),
            revocation_endpoint: metadata.revocation_endpoint.clone(),
        })
    }

    /// `client_credentials` (RFC 6749 §4.4) for `scopes` (`None`: the client's defaults).
    pub(crate) async fn client_credentials(&self, scopes: Option<&[String]>) -> Result<TokenResponse> {
        let mut request = self.oauth.exchange_client_credentials();
        for s in scopes.unwrap_or_default() {
            request = request.add_scope(Scope::new(s.clone()));
        }
        request.request_async(&self.http).await.map(into_response).map_err(token_error)
    }

    /// A refresh (RFC 6749 §6), narrowed to `scopes` when given.
    pub(crate) async fn refresh(&self, refresh_token: &str, scopes: Option<&[String]>) -> Result<TokenResponse> {
        let token = RefreshToken::new(refresh_token.to_owned());
        let mut request = self.oauth.exchange_refresh_token(&token);
        for s in scopes.unwrap_or_default() {
            request = request.add_scope(Scope::new(s.clone()));
        }
        request.request_async(&self.http).await.map(into_response).map_err(token_error)
    }

    /// RFC 7009 revocation, with the hint the caller knows. By hand rather than through
    /// `oauth2`, which refuses a revocation endpoint that is not HTTPS, and a loopback
    /// server in development is plain HTTP.
    pub(crate) async fn revoke(&self, token: &str, is_refresh: bool) -> Result<()> {
        let url = self.revocation_endpoint.as_deref().ok_or(Error::Unsupported("revocation"))?;
        let hint = if is_refresh { "refresh_token" } else { "access_token" };
        self.post(url, vec![("token", token), ("token_type_hint", hint)], "revocation").await.map(drop)
    }

    /// RFC 7662 introspection, authenticated as this client.
    pub(crate) async fn introspect(&self, token: &str) -> Result<Introspection> {
        let url = self.introspection_endpoint.as_deref().ok_or(Error::Unsupported("introspection"))?;
        let body = self.post(url, vec![("token", token)], "introspection").await?;
        serde_json::from_slice(&body).map_err(|e| Error::InvalidResponse(format!("introspection answer: {e}")))
    }

    /// A form POST authenticated as this client; the body of a 2xx answer, else the
    /// OAuth error it carries.
    async fn post(&self, url: &str, mut form: Vec<(&str, &str)>, what: &str) -> Result<Vec<u8>> {
        let mut request = self.http.post(url).header("accept", "application/json");
        let secret = self.config.secret.as_deref();
        match (self.config.auth_method, secret) {
            // RFC 6749 §2.3.1: both are form-encoded before they are joined.
            (AuthMethod::ClientSecretBasic, Some(secret)) => {
                request = request.basic_auth(form_encode(&self.config.client_id), Some(form_encode(secret)));
            }
            (AuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret));
            }
            _ => form.push(("client_id", &self.config.client_id)),
        }
        let response = request.form(&form).send().await.map_err(network)?;
        let status = response.status();
        let body = response.bytes().await.map_err(network)?;
        if !status.is_success() {
            return Err(error_body(&body).unwrap_or_else(|| {
                Error::InvalidResponse(format!("{what} answered {status} without an OAuth error"))
            }));
        }
        Ok(body.to_vec())
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn network(e: reqwest::Error) -> Error {
    // Never the URL: a Spring-style endpoint may carry a token in it.
    Error::Network(e.without_url().to_string())
}

/// An OAuth error body, if that is what `body` is.
fn error_body(body: &[u8]) -> Option<Error> {
    #[derive(Deserialize)]
    struct Body {
        error: String,
        error_description: Option<String>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    Some(Error::from_oauth(&b.error, b.error_description))
}

fn into_response(r: OAuthTokenResponse) -> TokenResponse {
    TokenResponse {
        access_token: r.access_token().secret().clone(),
        token_type: r.token_type().as_ref().to_owned(),
        expires_in: r.expires_in().map(|d| d.as_secs()),
        refresh_token: r.refresh_token().map(|t| t.secret().clone()),
        scope: r.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        authorities: r.extra_fields().authorities.clone(),
    }
}

fn token_error<T>(e: RequestTokenError<HttpClientError<reqwest::Error>, T>) -> Error
where
    T: ErrorResponse + serde::Serialize + 'static,
{
    match e {
        RequestTokenError::ServerResponse(body) => {
            // The typed error's fields differ between token and revocation errors;
            // both serialize to RFC 6749 §5.2's JSON.
            let json = serde_json::to_vec(&body).unwrap_or_default();
            error_body(&json).unwrap_or_else(|| Error::InvalidResponse("an error answer without a code".into()))
        }
        RequestTokenError::Request(HttpClientError::Reqwest(e)) => network(*e),
        RequestTokenError::Request(other) => Error::Network(other.to_string()),
        RequestTokenError::Parse(e, _) => Error::InvalidResponse(format!("token answer: {e}")),
        RequestTokenError::Other(m) => Error::InvalidResponse(m),
    }
}
