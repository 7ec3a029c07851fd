//! The password grant with its throttling, and refresh tokens: rotation, reuse
//! detection, races, grace, scope narrowing (SECURITY-CASES D31–32, E33–36).

use portcullis_core::admin::{ClientSpec, RealmSettings, UserSpec};
use portcullis_core::model::RefreshPolicy;
use serde_json::Value;

use crate::harness::{TestClient, TestServer, assert_error};

async fn login(s: &TestServer, realm: &str, c: &TestClient, user: &str, password: &str) -> reqwest::Response {
    s.post_form(
        &s.url(realm, "/oauth/token"),
        Some(c),
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", "invoices.read invoices.write"),
        ],
    )
    .await
}

async fn tokens(s: &TestServer, realm: &str, c: &TestClient) -> Value {
    let r = login(s, realm, c, "alice", "correct horse battery").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn rs(s: &TestServer, realm: &str) -> TestClient {
    s.client_with(realm, ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await
}

#[tokio::test]
async fn the_password_grant_answers_like_spring_with_authorities() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "first-party").await;
    s.user("default", "alice", "correct horse battery", &["admin", "billing"]).await;
    let body = tokens(&s, "default", &c).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["authorities"], serde_json::json!(["admin", "billing"]));
    assert!(body["refresh_token"].is_string());
    // Usernames compare case-insensitively.
    assert_eq!(login(&s, "default", &c, "ALICE", "correct horse battery").await.status(), 200);
    let check = s
        .post_form(
            &s.url("default", "/oauth/check_token"),
            Some(&rs(&s, "default").await),
            &[("token", body["access_token"].as_str().unwrap())],
        )
        .await;
    let check: Value = check.json().await.unwrap();
    assert_eq!(check["user_name"], "alice");
    assert_eq!(check["authorities"], serde_json::json!(["admin", "billing"]));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "first-party").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let a = login(&s, "default", &c, "alice", "wrong password!").await;
    let b = login(&s, "default", &c, "nobody", "wrong password!").await;
    let (sa, sb) = (a.status(), b.status());
    assert_eq!((sa.as_u16(), a.bytes().await.unwrap()), (sb.as_u16(), b.bytes().await.unwrap()));
    assert_eq!(sa, 400);
    s.admin().update_user("default", "alice", &UserSpec { disabled: Some(true), ..Default::default() }).await.unwrap();
    assert_error(login(&s, "default", &c, "alice", "correct horse battery").await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn clients_not_registered_for_the_password_grant_cannot_use_it() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "m2m", "invoices.read").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    assert_error(login(&s, "default", &c, "alice", "correct horse battery").await, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn a_burst_of_guesses_is_throttled_even_for_the_right_password() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "first-party").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (http, url, c) = (s.http.clone(), s.url("default", "/oauth/token"), c.clone());
            tokio::spawn(async move {
                let form =
                    [("grant_type", "password"), ("username", "alice"), ("password", &format!("guess-{i}-xxxx"))];
                http.post(url)
                    .basic_auth(&c.id, Some(&c.secret))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut throttled = 0;
    for t in tasks {
        let body = t.await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        if body["error_description"].as_str().unwrap().contains("too many") {
            throttled += 1;
        }
    }
    assert_eq!(throttled, 20, "exactly the attempts past the limit of 10 are throttled");
    let r = login(&s, "default", &c, "alice", "correct horse battery").await;
    let body = assert_error(r, 400, "invalid_grant").await;
    assert!(body["error_description"].as_str().unwrap().contains("too many"));
    // Another account is unaffected; the lock ends with its window.
    s.user("default", "bob", "correct horse battery", &[]).await;
    assert_eq!(login(&s, "default", &c, "bob", "correct horse battery").await.status(), 200);
    s.clock.advance(15 * 60 + 1);
    assert_eq!(login(&s, "default", &c, "alice", "correct horse battery").await.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_stops_working() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &["admin"]).await;
    let first = tokens(&s, "default", &c).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let r = s.refresh("default", &c, rt1, None).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    assert_eq!(second["authorities"], serde_json::json!(["admin"]));
    let rs = rs(&s, "default").await;
    assert!(!s.is_active("default", &rs, rt1).await, "a spent refresh token is inactive");
    assert!(s.is_active("default", &rs, rt2).await);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_grant() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let first = tokens(&s, "default", &c).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: Value = s.refresh("default", &c, rt1, None).await.json().await.unwrap();
    assert_error(s.refresh("default", &c, rt1, None).await, 400, "invalid_grant").await;
    let rs = rs(&s, "default").await;
    assert!(!s.is_active("default", &rs, second["access_token"].as_str().unwrap()).await);
    assert!(!s.is_active("default", &rs, first["access_token"].as_str().unwrap()).await);
    assert_error(s.refresh("default", &c, second["refresh_token"].as_str().unwrap(), None).await, 400, "invalid_grant")
        .await;
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let first = tokens(&s, "default", &c).await;
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(s.is_active("default", &c, &rt).await, "the race starts from a live, unspent token");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, c, rt) = (s.http.clone(), s.url("default", "/oauth/token"), c.clone(), rt.clone());
            tokio::spawn(async move {
                let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
                http.post(url).basic_auth(&c.id, Some(&c.secret)).form(&form).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn refresh_can_narrow_scope_but_never_widen_it() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let r = s
        .post_form(
            &s.url("default", "/oauth/token"),
            Some(&c),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("scope", "invoices.read"),
            ],
        )
        .await;
    let first: Value = r.json().await.unwrap();
    let rt = first["refresh_token"].as_str().unwrap();
    assert_error(s.refresh("default", &c, rt, Some("invoices.read invoices.write")).await, 400, "invalid_scope").await;

    let full = tokens(&s, "default", &c).await;
    let narrowed: Value = s
        .refresh("default", &c, full["refresh_token"].as_str().unwrap(), Some("invoices.read"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "invoices.read");
    let later: Value =
        s.refresh("default", &c, narrowed["refresh_token"].as_str().unwrap(), None).await.json().await.unwrap();
    assert_eq!(later["scope"], "invoices.read invoices.write", "without scope: the original grant");
    // The client loses a scope: refreshes no longer carry it.
    s.admin()
        .update_client(
            "default",
            &c.id,
            &ClientSpec { scopes: Some(vec!["invoices.read".into()]), ..Default::default() },
        )
        .await
        .unwrap();
    let cut: Value =
        s.refresh("default", &c, later["refresh_token"].as_str().unwrap(), None).await.json().await.unwrap();
    assert_eq!(cut["scope"], "invoices.read");
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client_and_die_with_user_or_grant() {
    let s = TestServer::start().await;
    let a = s.password_client("default", "a").await;
    let b = s.password_client("default", "b").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = tokens(&s, "default", &a).await;
    let rt = t["refresh_token"].as_str().unwrap();
    assert_error(s.refresh("default", &b, rt, None).await, 400, "invalid_grant").await;
    // An access token is not a refresh token.
    assert_error(s.refresh("default", &a, t["access_token"].as_str().unwrap(), None).await, 400, "invalid_grant").await;
    // Expired.
    s.clock.advance(30 * 24 * 3600 + 1);
    assert_error(s.refresh("default", &a, rt, None).await, 400, "invalid_grant").await;

    let s = TestServer::start().await;
    let a = s.password_client("default", "a").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = tokens(&s, "default", &a).await;
    s.admin().update_user("default", "alice", &UserSpec { disabled: Some(true), ..Default::default() }).await.unwrap();
    assert_error(s.refresh("default", &a, t["refresh_token"].as_str().unwrap(), None).await, 400, "invalid_grant")
        .await;
    assert!(!s.is_active("default", &rs(&s, "default").await, t["access_token"].as_str().unwrap()).await);

    let s = TestServer::start().await;
    let a = s.password_client("default", "a").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = tokens(&s, "default", &a).await;
    let grants = s.admin().grants("default", Some("alice"), None).await.unwrap();
    assert_eq!(grants.len(), 1);
    s.admin().revoke_grant(&portcullis_core::token::token_id_hex(&grants[0].id)).await.unwrap();
    assert_error(s.refresh("default", &a, t["refresh_token"].as_str().unwrap(), None).await, 400, "invalid_grant")
        .await;
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = tokens(&s, "default", &c).await;
    let r = s
        .post_form(&s.url("default", "/oauth/revoke"), Some(&c), &[("token", t["refresh_token"].as_str().unwrap())])
        .await;
    assert_eq!(r.status(), 200);
    assert!(!s.is_active("default", &c, t["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn the_grace_period_lets_the_same_client_retry_a_lost_refresh() {
    let s = TestServer::start().await;
    let settings = RealmSettings { refresh_grace: Some(10), ..Default::default() };
    s.admin().create_realm("mobile", &settings).await.unwrap();
    let c = s.password_client("mobile", "app").await;
    s.user("mobile", "alice", "correct horse battery", &[]).await;
    let first = tokens(&s, "mobile", &c).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    assert_eq!(s.refresh("mobile", &c, rt1, None).await.status(), 200);
    s.clock.advance(5);
    let retry = s.refresh("mobile", &c, rt1, None).await;
    assert_eq!(retry.status(), 200, "within the grace period");
    let retry: Value = retry.json().await.unwrap();
    s.clock.advance(6);
    assert_error(s.refresh("mobile", &c, rt1, None).await, 400, "invalid_grant").await;
    assert!(
        !s.is_active("mobile", &c, retry["access_token"].as_str().unwrap()).await,
        "outside it, reuse revokes the grant"
    );
}

#[tokio::test]
async fn the_reuse_policy_keeps_the_refresh_token() {
    let s = TestServer::start().await;
    let settings = RealmSettings { refresh_policy: Some(RefreshPolicy::Reuse), ..Default::default() };
    s.admin().create_realm("legacy", &settings).await.unwrap();
    let c = s.password_client("legacy", "app").await;
    s.user("legacy", "alice", "correct horse battery", &[]).await;
    let first = tokens(&s, "legacy", &c).await;
    let rt = first["refresh_token"].as_str().unwrap();
    for _ in 0..3 {
        let r: Value = s.refresh("legacy", &c, rt, None).await.json().await.unwrap();
        assert_eq!(r["refresh_token"].as_str(), Some(rt));
        assert!(s.is_active("legacy", &c, r["access_token"].as_str().unwrap()).await);
    }
}

/// Switching a realm from `rotate` to `reuse` does not bring spent refresh tokens back:
/// presenting one is reuse, as under `rotate`, and revokes its grant.
#[tokio::test]
async fn a_token_spent_under_rotate_stays_spent_after_a_switch_to_reuse() {
    let s = TestServer::start().await;
    s.admin().create_realm("shop", &RealmSettings::default()).await.unwrap();
    let c = s.password_client("shop", "app").await;
    s.user("shop", "alice", "correct horse battery", &[]).await;
    let first = tokens(&s, "shop", &c).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: Value = s.refresh("shop", &c, rt1, None).await.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    let reuse = RealmSettings { refresh_policy: Some(RefreshPolicy::Reuse), ..Default::default() };
    s.admin().update_realm("shop", &reuse).await.unwrap();
    // A second instance reads the realm afresh (this one trusts its copy for a second).
    let s = s.another_instance().await;

    assert_error(s.refresh("shop", &c, rt1, None).await, 400, "invalid_grant").await;
    let rs = rs(&s, "shop").await;
    assert!(!s.is_active("shop", &rs, second["access_token"].as_str().unwrap()).await, "the grant is revoked");
    assert_error(s.refresh("shop", &c, rt2, None).await, 400, "invalid_grant").await;
}
