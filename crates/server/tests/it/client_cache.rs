//! The server caches clients for client_credentials and introspection; a change made
//! elsewhere (here through the store directly, as the CLI or another instance would,
//! never through this server's cache) must apply on the very next request.

use portcullis_core::admin::ClientSpec;
use portcullis_core::model::GrantType;

use crate::harness::{TestClient, TestServer, assert_error};

async fn token_response(s: &TestServer, c: &TestClient, scope: &str) -> reqwest::Response {
    s.post_form(&s.url("default", "/oauth/token"), Some(c), &[("grant_type", "client_credentials"), ("scope", scope)])
        .await
}

#[tokio::test]
async fn a_rotated_secret_is_refused_at_once_and_the_new_one_accepted() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "m2m", "a").await;
    assert_eq!(token_response(&s, &c, "a").await.status(), 200, "caches the client");
    let (_, secret) = s.admin().rotate_client_secret("default", &c.id, true).await.unwrap();
    assert_error(token_response(&s, &c, "a").await, 401, "invalid_client").await;
    let rotated = TestClient { id: c.id.clone(), secret: secret.expose().to_owned() };
    assert_eq!(token_response(&s, &rotated, "a").await.status(), 200);
}

#[tokio::test]
async fn a_disabled_or_deleted_client_gets_no_token_at_once() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "m2m", "a").await;
    assert_eq!(token_response(&s, &c, "a").await.status(), 200);
    let disable = ClientSpec { disabled: Some(true), ..Default::default() };
    s.admin().update_client("default", &c.id, &disable).await.unwrap();
    assert_error(token_response(&s, &c, "a").await, 401, "invalid_client").await;
    s.admin().delete_client("default", &c.id).await.unwrap();
    assert_error(token_response(&s, &c, "a").await, 401, "invalid_client").await;
}

/// The cached copy still allows scope `b`; the token it would mint is refused by the
/// revision check and the request is decided again on the current client.
#[tokio::test]
async fn a_narrowed_scope_applies_at_once() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "m2m", "a b").await;
    assert_eq!(token_response(&s, &c, "b").await.status(), 200);
    let narrow = ClientSpec { scopes: Some(vec!["a".into()]), ..Default::default() };
    s.admin().update_client("default", &c.id, &narrow).await.unwrap();
    assert_error(token_response(&s, &c, "b").await, 400, "invalid_scope").await;
    let r = token_response(&s, &c, "a").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_introspecting_client_that_changed_is_checked_again_at_once() {
    let s = TestServer::start().await;
    let owner = s.cc_client("default", "owner", "a").await;
    let spec = ClientSpec {
        name: Some("rs".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        resource_server: Some(true),
        ..Default::default()
    };
    let rs = s.client_with("default", spec).await;
    let token = s.token("default", &owner, None).await;
    assert!(s.is_active("default", &rs, &token).await, "caches the resource server");

    // No longer a resource server: the owner's token is not its to see.
    let plain = ClientSpec { resource_server: Some(false), ..Default::default() };
    s.admin().update_client("default", &rs.id, &plain).await.unwrap();
    assert!(!s.is_active("default", &rs, &token).await);

    let (_, secret) = s.admin().rotate_client_secret("default", &rs.id, true).await.unwrap();
    let r = s.post_form(&s.url("default", "/oauth/introspect"), Some(&rs), &[("token", &token)]).await;
    assert_error(r, 401, "invalid_client").await;
    let rotated = TestClient { id: rs.id.clone(), secret: secret.expose().to_owned() };
    assert!(s.is_active("default", &owner, &token).await);
    assert!(!s.is_active("default", &rotated, &token).await, "still not a resource server");

    s.admin()
        .update_client("default", &rs.id, &ClientSpec { disabled: Some(true), ..Default::default() })
        .await
        .unwrap();
    let r = s.post_form(&s.url("default", "/oauth/introspect"), Some(&rotated), &[("token", &token)]).await;
    assert_error(r, 401, "invalid_client").await;
}

/// A refusal that came from the cached copy is checked against the database before it
/// is answered: a scope added elsewhere is granted on the very next request.
#[tokio::test]
async fn a_widened_scope_applies_at_once() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "m2m", "a").await;
    assert_eq!(token_response(&s, &c, "a").await.status(), 200, "caches the client");
    assert_error(token_response(&s, &c, "b").await, 400, "invalid_scope").await;
    let widen = ClientSpec { scopes: Some(vec!["a".into(), "b".into()]), ..Default::default() };
    s.admin().update_client("default", &c.id, &widen).await.unwrap();
    let r = token_response(&s, &c, "a b").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["scope"], "a b");
    // Still refused for a scope it does not have, from the cache and the database alike.
    assert_error(token_response(&s, &c, "c").await, 400, "invalid_scope").await;
    assert_error(token_response(&s, &c, "c").await, 400, "invalid_scope").await;
}

/// A client cached through introspection, then allowed client_credentials elsewhere,
/// gets its token on the very next request.
#[tokio::test]
async fn a_newly_allowed_grant_type_applies_at_once() {
    let s = TestServer::start().await;
    let owner = s.cc_client("default", "owner", "a").await;
    let spec = ClientSpec {
        name: Some("api".into()),
        grant_types: Some(vec![GrantType::AuthorizationCode]),
        redirect_uris: Some(vec!["https://app.example/cb".into()]),
        scopes: Some(vec!["a".into()]),
        resource_server: Some(true),
        ..Default::default()
    };
    let api = s.client_with("default", spec).await;
    let token = s.token("default", &owner, None).await;
    assert!(s.is_active("default", &api, &token).await, "caches the client");
    assert_error(token_response(&s, &api, "a").await, 400, "unauthorized_client").await;
    let allow = ClientSpec {
        grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::ClientCredentials]),
        ..Default::default()
    };
    s.admin().update_client("default", &api.id, &allow).await.unwrap();
    assert_eq!(token_response(&s, &api, "a").await.status(), 200);
}

/// A disabled client is refused at introspection (401), never told `active: false`,
/// whatever token it presents: its own, an unknown one, or one that is not a token at
/// all (refused before any database read). Each case starts from a cached copy: the
/// first refusal drops it.
#[tokio::test]
async fn a_disabled_client_is_refused_at_introspection_whatever_it_presents() {
    let unknown = portcullis_core::token::opaque::mint(portcullis_core::model::TokenKind::Access).token;
    for (endpoint, token) in [
        ("/oauth/introspect", None),
        ("/oauth/introspect", Some(unknown.as_str())),
        ("/oauth/introspect", Some("not-a-token")),
        ("/oauth/introspect", Some("a.b.c")),
        ("/oauth/check_token", Some("not-a-token")),
    ] {
        let s = TestServer::start().await;
        let c = s.cc_client("default", "m2m", "a").await;
        let own = s.token("default", &c, None).await;
        assert!(s.is_active("default", &c, &own).await, "caches the client");
        let disable = ClientSpec { disabled: Some(true), ..Default::default() };
        s.admin().update_client("default", &c.id, &disable).await.unwrap();
        let token = token.unwrap_or(&own);
        let r = s.post_form(&s.url("default", endpoint), Some(&c), &[("token", token)]).await;
        assert_error(r, 401, "invalid_client").await;
    }
}
