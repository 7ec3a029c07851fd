//! An independent OAuth client, the `oauth2` crate, against the real server.

use oauth2::basic::BasicClient;
use oauth2::{
    ClientId, ClientSecret, IntrospectionUrl, RevocationUrl, Scope, StandardRevocableToken, TokenIntrospectionResponse,
    TokenResponse, TokenUrl,
};

use crate::harness::TestServer;

#[tokio::test]
async fn the_oauth2_crate_gets_introspects_and_revokes_a_token() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "billing", "invoices.read invoices.write").await;
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone()))
        .set_token_uri(TokenUrl::new(s.url("default", "/oauth/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(s.url("default", "/oauth/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(s.url("default", "/oauth/revoke")).unwrap());
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("invoices.read".into()))
        .request_async(&http)
        .await
        .expect("client_credentials through the oauth2 crate");
    assert_eq!(token.scopes().unwrap(), &vec![Scope::new("invoices.read".into())]);
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);

    let info = client.introspect(token.access_token()).request_async(&http).await.unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().unwrap().as_str(), c.id);

    // The oauth2 crate refuses to revoke over plain http (RFC 7009 §5 wants TLS), and
    // the test server speaks http on loopback: revoke by hand, check through the crate.
    let revocable: StandardRevocableToken = token.access_token().clone().into();
    assert!(matches!(client.revoke_token(revocable), Err(oauth2::ConfigurationError::InsecureUrl(_))));
    let r =
        s.post_form(&s.url("default", "/oauth/revoke"), Some(&c), &[("token", token.access_token().secret())]).await;
    assert_eq!(r.status(), 200);
    let info = client.introspect(token.access_token()).request_async(&http).await.unwrap();
    assert!(!info.active());
}

#[tokio::test]
async fn the_oauth2_crate_reports_a_wrong_secret_as_invalid_client() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "billing", "a").await;
    let client = BasicClient::new(ClientId::new(c.id.clone()))
        .set_client_secret(ClientSecret::new("pcs_wrong".into()))
        .set_token_uri(TokenUrl::new(s.url("default", "/oauth/token")).unwrap());
    let http = reqwest::Client::new();
    let err = client.exchange_client_credentials().request_async(&http).await.unwrap_err();
    match err {
        oauth2::RequestTokenError::ServerResponse(r) => {
            assert_eq!(r.error(), &oauth2::basic::BasicErrorResponseType::InvalidClient);
        }
        other => panic!("expected a server error response, got {other:?}"),
    }
}
