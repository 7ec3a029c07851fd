//! Two server instances on one PostgreSQL database, as behind a load balancer: the
//! races are decided by the database, not by one process (SECURITY-CASES #16, R1, R12).

use serde_json::Value;

use crate::browser::{Browser, REDIRECT, param, pkce_pair, pkce_query};
use crate::harness::{TestServer, on_postgres};

/// Splits `n` identical POSTs across the two instances; returns the statuses.
async fn split(
    a: &TestServer,
    b: &TestServer,
    n: usize,
    path: &str,
    form: Vec<(String, String)>,
    basic: Option<(String, String)>,
) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let server = if i % 2 == 0 { a } else { b };
            let (http, url, form, basic) =
                (server.http.clone(), server.url("default", path), form.clone(), basic.clone());
            tokio::spawn(async move {
                let mut req = http.post(url).form(&form);
                if let Some((id, secret)) = basic {
                    req = req.basic_auth(id, Some(secret));
                }
                req.send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_across_two_instances_has_one_winner() {
    on_postgres("one_code_raced_across_two_instances_has_one_winner", |a| async move {
        let b = a.another_instance().await;
        let client = a.code_client("default", "App", true).await;
        a.user("default", "alice", "correct horse battery", &[]).await;
        let (verifier, challenge) = pkce_pair();
        let params = Browser::new()
            .authorize_and_allow(&a, "default", &pkce_query(&client.id, &challenge), "alice", "correct horse battery")
            .await;
        let form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), param(&params, "code").unwrap()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("code_verifier".into(), verifier),
            ("client_id".into(), client.id.clone()),
        ];
        let statuses = split(&a, &b, 16, "/oauth/token", form, None).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 15, "{statuses:?}");
    })
    .await;
}

/// Each round races a live, unspent refresh token of its own grant (a fresh sign-in):
/// exactly one racer wins, and the losers' reuse revokes that family.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_raced_across_two_instances_has_one_winner() {
    on_postgres("one_refresh_token_raced_across_two_instances_has_one_winner", |a| async move {
        let b = a.another_instance().await;
        let c = a.password_client("default", "app").await;
        a.user("default", "alice", "correct horse battery", &[]).await;
        for n in [2, 8, 32] {
            let r = a
                .post_form(
                    &a.url("default", "/oauth/token"),
                    Some(&c),
                    &[("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")],
                )
                .await;
            assert_eq!(r.status(), 200);
            let t: Value = r.json().await.unwrap();
            let (access, refresh) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
            assert!(a.is_active("default", &c, refresh).await, "the race starts from a live, unspent token");
            let form = vec![
                ("grant_type".to_string(), "refresh_token".to_string()),
                ("refresh_token".into(), refresh.to_owned()),
            ];
            let statuses = split(&a, &b, n, "/oauth/token", form, Some((c.id.clone(), c.secret.clone()))).await;
            assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{n} racers: {statuses:?}");
            assert_eq!(statuses.iter().filter(|s| **s == 400).count(), n - 1, "{n} racers: {statuses:?}");
            // The losers counted as reuse: the whole family is revoked.
            assert!(!a.is_active("default", &c, access).await);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_on_one_instance_shows_on_the_other_at_once() {
    on_postgres("a_revocation_on_one_instance_shows_on_the_other_at_once", |a| async move {
        let b = a.another_instance().await;
        let c = a.cc_client("default", "svc", "x").await;
        let t = a.token("default", &c, None).await;
        assert!(b.is_active("default", &c, &t).await);
        let r = a.post_form(&a.url("default", "/oauth/revoke"), Some(&c), &[("token", &t)]).await;
        assert_eq!(r.status(), 200);
        assert!(!b.is_active("default", &c, &t).await);
        assert_eq!(
            b.http.get(format!("{}/readyz", b.base)).send().await.unwrap().json::<Value>().await.unwrap()["database"],
            "postgres"
        );
    })
    .await;
}

/// Six failures at each instance for one (account, address) pair: counting per
/// instance would refuse none of them; the shared counters refuse the 11th and 12th.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sign_in_limit_holds_across_instances() {
    on_postgres("the_sign_in_limit_holds_across_instances", |a| async move {
        let b = a.another_instance().await;
        let c = a.password_client("default", "app").await;
        a.user("default", "alice", "correct horse battery", &[]).await;
        let attempt = async |s: &TestServer, password: &str| {
            let form = [("grant_type", "password"), ("username", "alice"), ("password", password)];
            let body: Value =
                s.post_form(&s.url("default", "/oauth/token"), Some(&c), &form).await.json().await.unwrap();
            match body["error_description"].as_str() {
                Some(d) if d.contains("too many") => "throttled",
                Some(_) => "bad",
                None => "ok",
            }
        };
        let mut seen = Vec::new();
        for i in 0..12 {
            seen.push(attempt(if i % 2 == 0 { &a } else { &b }, &format!("wrong-guess-{i}")).await);
        }
        assert_eq!(seen, [["bad"; 10].as_slice(), &["throttled"; 2]].concat());
        assert_eq!(attempt(&b, "correct horse battery").await, "throttled");
        assert_eq!(attempt(&a, "correct horse battery").await, "throttled");
    })
    .await;
}

/// The same for client secrets: six wrong secrets at each instance from one address.
/// The shared counters refuse the 11th and 12th, and then the right secret at both
/// instances, though neither saw ten failures itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_client_secret_limit_holds_across_instances() {
    on_postgres("the_client_secret_limit_holds_across_instances", |a| async move {
        let b = a.another_instance().await;
        let c = a.cc_client("default", "x", "a").await;
        let attempt = async |s: &TestServer, secret: &str| {
            let url = s.url("default", "/oauth/token");
            let r = s.http.post(url).basic_auth(&c.id, Some(secret)).form(&[("grant_type", "client_credentials")]);
            r.send().await.unwrap().status().as_u16()
        };
        let mut seen = Vec::new();
        for i in 0..12 {
            seen.push(attempt(if i % 2 == 0 { &a } else { &b }, &format!("wrong-guess-{i}")).await);
        }
        assert_eq!(seen, [[401; 10].as_slice(), &[429; 2]].concat());
        assert_eq!(attempt(&b, &c.secret).await, 429);
        assert_eq!(attempt(&a, &c.secret).await, 429);
        a.clock.advance(15 * 60);
        assert_eq!(attempt(&b, &c.secret).await, 200, "the right secret works again after the window");
    })
    .await;
}

#[tokio::test]
async fn state_survives_a_restart_including_reuse_detection() {
    let a = TestServer::start().await;
    let c = a.password_client("default", "app").await;
    a.user("default", "alice", "correct horse battery", &[]).await;
    let r = a
        .post_form(
            &a.url("default", "/oauth/token"),
            Some(&c),
            &[("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")],
        )
        .await;
    let first: Value = r.json().await.unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: Value = a.refresh("default", &c, rt1, None).await.json().await.unwrap();
    let kid_before: Value = a.http.get(a.url("default", "/jwks.json")).send().await.unwrap().json().await.unwrap();

    // A new process on the same database file.
    let b = a.another_instance().await;
    assert!(b.is_active("default", &c, second["access_token"].as_str().unwrap()).await);
    let kid_after: Value = b.http.get(b.url("default", "/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(kid_before, kid_after, "signing keys persist");
    let r = b.refresh("default", &c, rt1, None).await;
    assert_eq!(r.status(), 400, "a token rotated before the restart is still spent");
    assert!(
        !b.is_active("default", &c, second["access_token"].as_str().unwrap()).await,
        "and its reuse still revokes the family"
    );
}
