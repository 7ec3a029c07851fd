//! Spring's `POST $I/oauth/check_token` under attack: hostile, foreign and
//! wrong-type tokens, broken bodies (SECURITY-CASES #37, #44, #51, #56, #58). Forged
//! JWTs are in jwt.rs.

use portcullis_core::admin::ClientSpec;
use serde_json::Value;

use super::{INJECTIONS, assert_unchanged, post_raw, snapshot};
use crate::harness::{TestServer, assert_error};

/// Every token that is not a live access token of this realm, visible to the caller,
/// is 400 `invalid_token` "Token was not recognised": hostile strings, another
/// realm's token, a refresh token (RFC 8725 §3.12: one kind, one use) and another
/// client's token.
#[tokio::test]
async fn tokens_that_are_not_live_access_tokens_here_are_not_recognised() {
    let s = TestServer::start().await;
    s.admin().create_realm("other", &Default::default()).await.unwrap();
    let c = s.password_client("default", "app").await;
    let stranger = s.cc_client("default", "stranger", "x").await;
    let rs_b = s
        .client_with("other", ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let t: Value = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &form).await.json().await.unwrap();
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    let url = s.url("default", "/oauth/check_token");
    let before = snapshot(&s).await;
    let not_recognised = |r| async move {
        let e = assert_error(r, 400, "invalid_token").await;
        assert_eq!(e["error_description"], "Token was not recognised");
    };
    for p in INJECTIONS {
        not_recognised(s.post_form(&url, Some(&c), &[("token", p)]).await).await;
    }
    not_recognised(s.post_form(&url, Some(&c), &[("token", rt)]).await).await;
    not_recognised(s.post_form(&url, Some(&stranger), &[("token", at)]).await).await;
    not_recognised(s.post_form(&s.url("other", "/oauth/check_token"), Some(&rs_b), &[("token", at)]).await).await;
    assert_unchanged(&s, &before, "check_token").await;
    assert_eq!(s.post_form(&url, Some(&c), &[("token", at)]).await.status(), 200);
}

/// A repeated `token`, invalid UTF-8, no token, or no client: the RFC error, never a
/// claim set.
#[tokio::test]
async fn malformed_check_token_requests_are_refused() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/check_token");
    let before = snapshot(&s).await;
    for body in
        [format!("token={t}&token={t}").into_bytes(), b"token=\xff".to_vec(), b"token=%00".to_vec(), b"".to_vec()]
    {
        assert_error(post_raw(&s, &url, Some(&c), body).await, 400, "invalid_request").await;
    }
    assert_error(post_raw(&s, &url, None, format!("token={t}")).await, 401, "invalid_client").await;
    let r = s.http.post(format!("{url}?token={t}")).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
    assert_error(r, 400, "invalid_request").await;
    assert_unchanged(&s, &before, "malformed check_token").await;
}
