//! Revocation (RFC 7009) and Spring's revoke_token.

use portcullis_core::model::{SigningAlg, TokenFormat};

use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn revoking_a_token_makes_it_inactive_at_once() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let r = s.post_form(&s.url("default", "/oauth/revoke"), Some(&c), &[("token", &t)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(!s.is_active("default", &c, &t).await);
    // Revoking again, or a token that never existed, is still success (§2.2).
    for token in [t.as_str(), "never-issued"] {
        let r = s.post_form(&s.url("default", "/oauth/revoke"), Some(&c), &[("token", token)]).await;
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn revoked_jwts_are_inactive_though_their_signature_is_valid() {
    let s = TestServer::start().await;
    s.realm("j", TokenFormat::Jwt, SigningAlg::Hs256).await;
    let c = s.cc_client("j", "x", "a").await;
    let t = s.token("j", &c, None).await;
    assert!(s.is_active("j", &c, &t).await);
    let r = s
        .post_form(&s.url("j", "/oauth/revoke"), Some(&c), &[("token", &t), ("token_type_hint", "access_token")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(!s.is_active("j", &c, &t).await);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let s = TestServer::start().await;
    let a = s.cc_client("default", "a", "x").await;
    let b = s.cc_client("default", "b", "x").await;
    let t = s.token("default", &a, None).await;
    let r = s.post_form(&s.url("default", "/oauth/revoke"), Some(&b), &[("token", &t)]).await;
    assert_eq!(r.status(), 200);
    assert!(s.is_active("default", &a, &t).await);
}

#[tokio::test]
async fn revocation_needs_a_token_and_a_client() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/revoke");
    assert_error(s.post_form(&url, Some(&c), &[]).await, 400, "invalid_request").await;
    assert_error(s.post_form(&url, None, &[("token", &t)]).await, 401, "invalid_client").await;
    let mut wrong = c.clone();
    wrong.secret.push('x');
    assert_error(s.post_form(&url, Some(&wrong), &[("token", &t)]).await, 401, "invalid_client").await;
    assert!(s.is_active("default", &c, &t).await);
}

#[tokio::test]
async fn spring_revoke_token_takes_the_token_from_query_or_form() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/revoke_token");
    let t1 = s.token("default", &c, None).await;
    let r = s.http.post(format!("{url}?token={t1}")).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!s.is_active("default", &c, &t1).await);
    let t2 = s.token("default", &c, None).await;
    assert_eq!(s.post_form(&url, Some(&c), &[("token", &t2)]).await.status(), 200);
    assert!(!s.is_active("default", &c, &t2).await);
    let t3 = s.token("default", &c, None).await;
    let r = s
        .http
        .post(format!("{url}?token={t3}"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", &t3)])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
}
