//! Client-secret throttling over HTTP (SECURITY-CASES #31): failures only, per
//! (client, address) pair and per address, shared with every endpoint that
//! authenticates clients. A concurrent burst is in `negative/token.rs`, two instances
//! in `multi_instance.rs`.

use reqwest::{Method, Response};
use serde_json::Value;

use crate::harness::{TestClient, TestServer, assert_error};
use crate::sign_in_throttling::from;

async fn cc(s: &TestServer, http: &reqwest::Client, id: &str, secret: &str) -> Response {
    let url = s.url("default", "/oauth/token");
    http.post(url).basic_auth(id, Some(secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap()
}

/// 401 for a failure that was counted, 429 (with `Retry-After`) past a limit.
pub async fn refused(r: Response) -> u16 {
    let status = r.status().as_u16();
    if status == 429 {
        assert_eq!(r.headers()["retry-after"], "900", "the longest the lock can last");
        let body = assert_error(r, 429, "temporarily_unavailable").await;
        assert!(body["error_description"].as_str().unwrap().contains("too many failed client authentications"));
    } else {
        assert_error(r, 401, "invalid_client").await;
    }
    status
}

pub async fn counters(s: &TestServer) -> (i64, i64) {
    let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
    let row = sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(failures), 0) FROM sign_in_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row
}

#[tokio::test]
async fn wrong_secrets_lock_the_pair_not_the_client() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let other = s.cc_client("default", "y", "a").await;
    let (attacker, owner) = (from("127.0.0.2"), from("127.0.0.3"));
    let mut seen = Vec::new();
    for i in 0..12 {
        seen.push(refused(cc(&s, &attacker, &c.id, &format!("guess-{i}")).await).await);
    }
    assert_eq!(seen, [[401; 10].as_slice(), &[429; 2]].concat());
    assert_eq!(refused(cc(&s, &attacker, &c.id, &c.secret).await).await, 429, "even the right secret");
    assert_eq!(cc(&s, &owner, &c.id, &c.secret).await.status(), 200, "another address is not locked");
    assert_eq!(cc(&s, &attacker, &other.id, &other.secret).await.status(), 200, "another client is not locked");

    // Introspection and revocation authenticate through the same throttle.
    let token = s.token("default", &c, None).await;
    for path in ["/oauth/introspect", "/oauth/revoke", "/oauth/check_token"] {
        let r = attacker.post(s.url("default", path)).basic_auth(&c.id, Some(&c.secret)).form(&[("token", &token)]);
        assert_eq!(refused(r.send().await.unwrap()).await, 429, "{path}");
    }

    // The lock ends with its window.
    s.clock.advance(15 * 60);
    assert_eq!(cc(&s, &attacker, &c.id, &c.secret).await.status(), 200);
}

#[tokio::test]
async fn failures_at_introspection_count_like_failures_at_the_token_endpoint() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let attacker = from("127.0.0.2");
    for i in 0..10 {
        let form = [("token", "pcat_whatever")];
        let r = attacker
            .post(s.url("default", "/oauth/introspect"))
            .basic_auth(&c.id, Some(format!("guess-{i}")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(refused(r).await, 401);
    }
    assert_eq!(refused(cc(&s, &attacker, &c.id, &c.secret).await).await, 429);
    // client_secret_post is a guess too.
    let r = attacker
        .post(s.url("default", "/oauth/revoke"))
        .form(&[("client_id", c.id.as_str()), ("client_secret", "guess"), ("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused(r).await, 429);
}

#[tokio::test]
async fn an_address_guessing_across_clients_uses_up_its_budget() {
    let s = TestServer::start_configured(|st| st, |a| a.with_client_auth_failures_per_address(5)).await;
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(s.cc_client("default", &format!("c{i}"), "a").await);
    }
    let (sprayer, other) = (from("127.0.0.2"), from("127.0.0.3"));
    let mut seen = Vec::new();
    for c in &clients {
        seen.push(refused(cc(&s, &sprayer, &c.id, "Summer2026!").await).await);
    }
    assert_eq!(seen, [[401; 5].as_slice(), &[429; 3]].concat());
    let last = &clients[7];
    assert_eq!(refused(cc(&s, &sprayer, &last.id, &last.secret).await).await, 429);
    assert_eq!(cc(&s, &other, &last.id, &last.secret).await.status(), 200, "other addresses are not affected");
    // Unknown client ids count against the budget like known ones, and a refusal
    // writes nothing.
    let before = counters(&s).await;
    for i in 0..20 {
        assert_eq!(refused(cc(&s, &sprayer, &format!("no-such-client-{i}"), "x").await).await, 429);
    }
    assert_eq!(counters(&s).await, before);
}

/// The heaviest honest caller: a backend on one address opening 50 connections at
/// once on a fresh instance, 2,000 requests in all, under the default settings.
/// Untrusted attempts of one pair take turns, so the first connections do not fill
/// the pair's counter with reservations; successes leave no counter behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_honest_heavy_caller_is_never_refused_under_the_defaults() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "backend", "a").await;
    let rs = s
        .client_with(
            "default",
            portcullis_core::admin::ClientSpec {
                name: Some("api".into()),
                grant_types: Some(vec![portcullis_core::model::GrantType::ClientCredentials]),
                resource_server: Some(true),
                ..Default::default()
            },
        )
        .await;
    let tasks: Vec<_> = (0..50)
        .map(|lane| {
            let (token_url, introspect_url) = (s.url("default", "/oauth/token"), s.url("default", "/oauth/introspect"));
            let (c, rs): (TestClient, TestClient) = (c.clone(), rs.clone());
            tokio::spawn(async move {
                let http = from("127.0.0.1");
                let mut statuses = Vec::new();
                for i in 0..40 {
                    let r = http
                        .post(&token_url)
                        .basic_auth(&c.id, Some(&c.secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap();
                    statuses.push(r.status().as_u16());
                    if (lane + i) % 8 == 0 {
                        let token = r.json::<serde_json::Value>().await.unwrap()["access_token"].to_string();
                        let r = http
                            .post(&introspect_url)
                            .basic_auth(&rs.id, Some(&rs.secret))
                            .form(&[("token", token.trim_matches('"'))])
                            .send()
                            .await
                            .unwrap();
                        statuses.push(r.status().as_u16());
                    }
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    assert!(statuses.len() >= 2000);
    assert!(statuses.iter().all(|s| *s == 200), "{:?}", statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>());
    assert_eq!(counters(&s).await, (0, 0), "successes leave no counter behind");
}

/// An operator lifts a lock before its window ends (`POST .../clients/{id}/unlock`):
/// the client's counters go, from every address, so the locked caller's right secret
/// works again at once; the unlock is audited, an unknown client is 404.
async fn unlocking_a_client_lifts_its_lock(s: TestServer) {
    let c = s.cc_client("default", "x", "a").await;
    let attacker = from("127.0.0.2");
    for i in 0..10 {
        assert_eq!(refused(cc(&s, &attacker, &c.id, &format!("guess-{i}")).await).await, 401);
    }
    assert_eq!(refused(cc(&s, &attacker, &c.id, &c.secret).await).await, 429, "locked");

    let api = crate::admin_api::Api::on(s).await;
    let unlocked = api.expect(Method::POST, &format!("/realms/default/clients/{}/unlock", c.id), None, 200).await;
    assert_eq!(unlocked["client_id"], c.id.as_str(), "{unlocked}");
    // The pair's counter and the client's own; the address's budget stays.
    assert_eq!(unlocked["cleared_counters"], 2, "{unlocked}");
    assert_eq!(
        cc(&api.s, &attacker, &c.id, &c.secret).await.status(),
        200,
        "the right secret, from the locked address"
    );
    let again = api.expect(Method::POST, "/realms/default/clients/x/unlock", None, 200).await;
    assert_eq!(again["cleared_counters"], 0, "by name, with nothing left to clear");
    let e = api.expect(Method::POST, "/realms/default/clients/no-such-client/unlock", None, 404).await;
    assert_eq!(e["error"], "not_found", "{e}");

    let page = api.expect(Method::GET, "/realms/default/audit?kind=admin.change", None, 200).await;
    let unlocks: Vec<&Value> =
        page["items"].as_array().unwrap().iter().filter(|e| e["action"] == "client.unlock").collect();
    assert_eq!(unlocks.len(), 2, "{page}");
    assert!(unlocks.iter().all(|e| e["target"] == c.id.as_str() && e["realm"] == "default"), "{unlocks:?}");
}

#[tokio::test]
async fn unlocking_a_client_lifts_its_lock_on_sqlite() {
    unlocking_a_client_lifts_its_lock(TestServer::start().await).await;
}

#[tokio::test]
async fn unlocking_a_client_lifts_its_lock_on_postgres() {
    crate::harness::on_postgres("client_unlock", unlocking_a_client_lifts_its_lock).await;
}
