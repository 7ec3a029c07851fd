//! Sign-in throttling over HTTP: only failures count, per (account, address) pair and
//! per address; the server is reached from several loopback addresses (127.0.0.0/8
//! answers on Linux) so that each test has more than one client address.

use std::net::IpAddr;

use portcullis_server::HttpSettings;
use reqwest::Response;
use serde_json::Value;

use crate::browser::{Browser, authorize_url};
use crate::harness::{TestClient, TestServer, assert_error};

const PASSWORD: &str = "correct horse battery";

/// An HTTP client whose connections come from `addr`.
pub fn from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(addr.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn grant(s: &TestServer, http: &reqwest::Client, c: &TestClient, username: &str, password: &str) -> Response {
    grant_forwarded(s, http, c, username, password, None).await
}

async fn grant_forwarded(
    s: &TestServer,
    http: &reqwest::Client,
    c: &TestClient,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Response {
    let form = [("grant_type", "password"), ("username", username), ("password", password)];
    let mut req = http.post(s.url("default", "/oauth/token")).basic_auth(&c.id, Some(&c.secret)).form(&form);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

/// "bad" for a wrong password, "throttled" for a refusal, "ok" for tokens.
async fn outcome(r: Response) -> &'static str {
    if r.status() == 200 {
        return "ok";
    }
    let body = assert_error(r, 400, "invalid_grant").await;
    if body["error_description"].as_str().unwrap().contains("too many") { "throttled" } else { "bad" }
}

/// Rows and failures in the counters table, read behind the server's back.
async fn counter_rows(s: &TestServer) -> (i64, i64) {
    let pool = sqlx::SqlitePool::connect(&s.database_url).await.unwrap();
    let row: (i64, i64) = sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(failures), 0) FROM sign_in_failures")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn successful_sign_ins_never_count() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "backend").await;
    for name in ["alice", "bob", "carol"] {
        s.user("default", name, PASSWORD, &[]).await;
    }
    // A backend signing its users in from one address, ten at a time.
    let tasks: Vec<_> = (0..10)
        .map(|lane| {
            let (url, c) = (s.url("default", "/oauth/token"), c.clone());
            tokio::spawn(async move {
                let http = from("127.0.0.1");
                let mut statuses = Vec::new();
                for i in 0..13 {
                    let name = ["alice", "bob", "carol"][(lane + i) % 3];
                    let form = [("grant_type", "password"), ("username", name), ("password", PASSWORD)];
                    let r = http.post(&url).basic_auth(&c.id, Some(&c.secret)).form(&form).send().await.unwrap();
                    statuses.push(r.status().as_u16());
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    assert_eq!(statuses.len(), 130);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(counter_rows(&s).await, (0, 0), "successes leave no counter behind");
}

#[tokio::test]
async fn failures_lock_the_pair_not_the_account() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", PASSWORD, &[]).await;
    let (attacker, owner) = (from("127.0.0.2"), from("127.0.0.3"));
    let mut seen = Vec::new();
    for i in 0..12 {
        seen.push(outcome(grant(&s, &attacker, &c, "alice", &format!("guess-{i}-wrong")).await).await);
    }
    assert_eq!(seen, [["bad"; 10].as_slice(), &["throttled"; 2]].concat());
    assert_eq!(outcome(grant(&s, &owner, &c, "alice", PASSWORD).await).await, "ok", "another address is not locked");
    assert_eq!(
        outcome(grant(&s, &attacker, &c, "ALICE", PASSWORD).await).await,
        "throttled",
        "even the right password"
    );
    // The lock ends with its window.
    s.clock.advance(15 * 60);
    assert_eq!(outcome(grant(&s, &attacker, &c, "alice", PASSWORD).await).await, "ok");
}

#[tokio::test]
async fn password_spraying_is_stopped_by_the_address_budget_and_refusals_write_nothing() {
    let s = TestServer::start_configured(|st| st, |a| a.with_sign_in_failures_per_address(5)).await;
    let c = s.password_client("default", "app").await;
    for i in 0..8 {
        s.user("default", &format!("user{i}"), PASSWORD, &[]).await;
    }
    let (sprayer, other) = (from("127.0.0.2"), from("127.0.0.3"));
    let mut seen = Vec::new();
    for i in 0..8 {
        seen.push(outcome(grant(&s, &sprayer, &c, &format!("user{i}"), "Summer2026!").await).await);
    }
    assert_eq!(seen, [["bad"; 5].as_slice(), &["throttled"; 3]].concat());
    assert_eq!(outcome(grant(&s, &sprayer, &c, "user7", PASSWORD).await).await, "throttled");
    assert_eq!(outcome(grant(&s, &other, &c, "user0", PASSWORD).await).await, "ok", "other addresses are not affected");

    // Refused attempts, each on a username never seen, write no row.
    let before = counter_rows(&s).await;
    assert_eq!(before, (11, 15), "5 pairs, 5 accounts and the address, each failure counted in three places");
    for i in 0..20 {
        assert_eq!(outcome(grant(&s, &sprayer, &c, &format!("new-name-{i}"), "x").await).await, "throttled");
    }
    assert_eq!(counter_rows(&s).await, before);
}

#[tokio::test]
async fn the_address_budget_can_be_turned_off() {
    let s = TestServer::start_configured(|st| st, |a| a.with_sign_in_failures_per_address(0)).await;
    let c = s.password_client("default", "app").await;
    let http = from("127.0.0.2");
    for i in 0..15 {
        assert_eq!(outcome(grant(&s, &http, &c, &format!("user{i}"), "wrong password").await).await, "bad");
    }
}

#[tokio::test]
async fn usernames_longer_than_255_bytes_are_refused_before_anything_is_counted() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    let http = from("127.0.0.2");
    for _ in 0..3 {
        let r = grant(&s, &http, &c, &"é".repeat(128), PASSWORD).await;
        let body = assert_error(r, 400, "invalid_grant").await;
        assert!(body["error_description"].as_str().unwrap().contains("255"), "{body}");
    }
    assert_eq!(counter_rows(&s).await, (0, 0));
    // 255 bytes is still a username (of no account here): an ordinary failure.
    assert_eq!(outcome(grant(&s, &http, &c, &"a".repeat(255), PASSWORD).await).await, "bad");
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let http = HttpSettings { trusted_proxies: vec!["127.0.0.2".parse().unwrap()], ..Default::default() };
    let s = TestServer::start_with_http(|a| a, http).await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", PASSWORD, &[]).await;
    let (proxy, stranger) = (from("127.0.0.2"), from("127.0.0.3"));

    // Through the trusted proxy, each forwarded client is counted apart.
    for i in 0..10 {
        let r = grant_forwarded(&s, &proxy, &c, "alice", &format!("wrong-{i}"), Some("198.51.100.7")).await;
        assert_eq!(outcome(r).await, "bad");
    }
    let r = grant_forwarded(&s, &proxy, &c, "alice", PASSWORD, Some("203.0.113.1, 198.51.100.7")).await;
    assert_eq!(outcome(r).await, "throttled", "the right-most untrusted entry is the client");
    let r = grant_forwarded(&s, &proxy, &c, "alice", PASSWORD, Some("198.51.100.8")).await;
    assert_eq!(outcome(r).await, "ok");

    // From an untrusted peer the header is ignored: changing it does not help.
    for i in 0..10 {
        let r = grant_forwarded(&s, &stranger, &c, "alice", &format!("wrong-{i}"), Some(&format!("192.0.2.{i}"))).await;
        assert_eq!(outcome(r).await, "bad");
    }
    let r = grant_forwarded(&s, &stranger, &c, "alice", PASSWORD, Some("192.0.2.200")).await;
    assert_eq!(outcome(r).await, "throttled");
}

#[tokio::test]
async fn unlocking_an_account_clears_its_pairs() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", PASSWORD, &[]).await;
    let http = from("127.0.0.2");
    for i in 0..10 {
        assert_eq!(outcome(grant(&s, &http, &c, "alice", &format!("wrong-{i}")).await).await, "bad");
    }
    assert_eq!(outcome(grant(&s, &http, &c, "alice", PASSWORD).await).await, "throttled");
    let (user, cleared) = s.admin().unlock_user("default", "ALICE").await.unwrap();
    assert_eq!((user.username.as_str(), cleared), ("alice", 2), "the pair and the account-wide counter");
    let body: Value = grant(&s, &http, &c, "alice", PASSWORD).await.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
}

/// A browser whose connections come from `addr`.
fn browser_from(addr: &str) -> Browser {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(addr.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    Browser { http }
}

#[tokio::test]
async fn the_login_page_and_the_password_grant_share_the_counters() {
    let s = TestServer::start().await;
    let app = s.code_client("default", "App", false).await;
    let backend = s.password_client("default", "backend").await;
    s.user("default", "alice", PASSWORD, &[]).await;
    let start = authorize_url(&s, "default", &[("response_type", "code"), ("client_id", &app.id)]);
    let b = browser_from("127.0.0.2");
    let mut page = b.get(&start).await.text().await.unwrap();
    for i in 0..5 {
        assert_eq!(outcome(grant(&s, &from("127.0.0.2"), &backend, "alice", &format!("wrong-{i}")).await).await, "bad");
        page = b.login(&s, "default", &page, "alice", &format!("also wrong {i}")).await.text().await.unwrap();
        assert!(page.contains("Invalid username or password."), "{page}");
    }
    let refused = b.login(&s, "default", &page, "alice", PASSWORD).await.text().await.unwrap();
    assert!(refused.contains("Too many failed sign-ins."), "{refused}");
    let long = b.login(&s, "default", &refused, &"u".repeat(256), PASSWORD).await.text().await.unwrap();
    assert!(long.contains("at most 255 bytes"), "{long}");

    let elsewhere = browser_from("127.0.0.3");
    let page = elsewhere.get(&start).await.text().await.unwrap();
    assert_eq!(elsewhere.login(&s, "default", &page, "alice", PASSWORD).await.status(), 303);
}
