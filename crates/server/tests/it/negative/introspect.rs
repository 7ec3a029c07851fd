//! `POST $I/oauth/introspect` under attack: hostile and oversized tokens, broken
//! encodings, repeated parameters, tokens of another realm and type confusion
//! (SECURITY-CASES #37, #42, #51, #56–#58; RFC 7662 §2). Forged JWTs are in jwt.rs.

use portcullis_core::admin::ClientSpec;
use serde_json::json;

use super::{INJECTIONS, assert_unchanged, assert_unchanged_but_failure_counters, enc, post_raw, snapshot};
use crate::harness::{TestClient, TestServer, assert_error, on_postgres};

async fn resource_server(s: &TestServer, realm: &str) -> TestClient {
    s.client_with(realm, ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await
}

/// Hostile tokens are `{"active":false}` and nothing else, on SQLite and PostgreSQL;
/// hostile realms are 404; nothing is written.
async fn hostile_tokens_are_inactive(s: TestServer) {
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/introspect");
    let before = snapshot(&s).await;
    let (selector, _) = t.rsplit_once('_').unwrap();
    let with_selector: Vec<String> = INJECTIONS.iter().map(|p| format!("{selector}_{p}")).collect();
    for token in INJECTIONS.iter().copied().chain(with_selector.iter().map(String::as_str)) {
        for hint in [None, Some("access_token"), Some("refresh_token"), Some(token)] {
            let mut form = vec![("token", token)];
            if let Some(h) = hint {
                form.push(("token_type_hint", h));
            }
            let r = s.post_form(&url, Some(&c), &form).await;
            assert_eq!(r.status(), 200, "{token}");
            assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!({"active": false}), "{token}");
        }
    }
    for p in INJECTIONS {
        let realm_url = format!("{}/realms/{}/oauth/introspect", s.base, enc(p).replace('+', "%20"));
        assert_error(s.post_form(&realm_url, Some(&c), &[("token", &t)]).await, 404, "not_found").await;
        let bad = TestClient { id: (*p).into(), secret: (*p).into() };
        assert_error(s.post_form(&url, Some(&bad), &[("token", &t)]).await, 401, "invalid_client").await;
    }
    assert_unchanged_but_failure_counters(&s, &before, "hostile tokens").await;
    assert!(s.is_active("default", &c, &t).await);
}

#[tokio::test]
async fn hostile_tokens_are_inactive_on_sqlite() {
    hostile_tokens_are_inactive(TestServer::start().await).await;
}

#[tokio::test]
async fn hostile_tokens_are_inactive_on_postgres() {
    on_postgres("neg_introspect_tokens", hostile_tokens_are_inactive).await;
}

/// A repeated `token`, invalid UTF-8 and a 1 MB token: `invalid_request` or 413,
/// never a 500, never an answer about either value.
#[tokio::test]
async fn malformed_introspection_requests_are_refused() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/introspect");
    let before = snapshot(&s).await;
    for body in [
        format!("token={t}&token={t}").into_bytes(),
        format!("token={t}&token=other").into_bytes(),
        format!("token={t}&token_type_hint=a&token_type_hint=b").into_bytes(),
        b"token=\xff\xfe".to_vec(),
        b"token=%ff".to_vec(),
        b"token=a%00".to_vec(),
        b"token=%zz".to_vec(),
        b"token=".to_vec(),
    ] {
        assert_error(post_raw(&s, &url, Some(&c), body).await, 400, "invalid_request").await;
    }
    let r = post_raw(&s, &url, Some(&c), format!("token={}", "a".repeat(1024 * 1024))).await;
    assert_eq!(r.status(), 413);
    assert_unchanged(&s, &before, "malformed introspection").await;
}

/// Realm A's tokens, opaque access and refresh, are inactive at realm B even for B's
/// resource server (#51); a refresh token is found whatever the hint (#42).
#[tokio::test]
async fn tokens_of_another_realm_are_inactive_and_hints_are_only_hints() {
    let s = TestServer::start().await;
    s.admin().create_realm("other", &Default::default()).await.unwrap();
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let t: serde_json::Value =
        s.post_form(&s.url("default", "/oauth/token"), Some(&c), &form).await.json().await.unwrap();
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    let rs_b = resource_server(&s, "other").await;
    let rs_a = resource_server(&s, "default").await;
    let before = snapshot(&s).await;
    for token in [at, rt] {
        assert!(!s.is_active("other", &rs_b, token).await);
        // Realm A's client is unknown at B.
        let r = s.post_form(&s.url("other", "/oauth/introspect"), Some(&c), &[("token", token)]).await;
        assert_error(r, 401, "invalid_client").await;
    }
    for hint in ["access_token", "refresh_token", "nonsense"] {
        let r = s
            .post_form(&s.url("default", "/oauth/introspect"), Some(&rs_a), &[("token", rt), ("token_type_hint", hint)])
            .await;
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["active"], true, "{hint}");
    }
    assert_unchanged_but_failure_counters(&s, &before, "cross-realm introspection").await;
}
