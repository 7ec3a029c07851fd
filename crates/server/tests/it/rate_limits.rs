//! Request-rate limits over HTTP: per address at the endpoints that authenticate
//! clients and at the admin API, per authenticated client, per admin token. Each is
//! off by default (`client_secret_throttling.rs` has the heavy honest caller); each
//! answers 429 `temporarily_unavailable` with `Retry-After` and spares other keys.

use std::sync::Arc;

use portcullis_core::rate_limit::RateLimiter;
use portcullis_server::{HttpSettings, RateLimits};
use reqwest::Response;

use crate::admin_api::Api;
use crate::harness::{TestServer, assert_error};
use crate::sign_in_throttling::from;

fn rate(s: &str) -> Option<portcullis_core::rate_limit::Rate> {
    Some(s.parse().unwrap())
}

/// A 429 of a request-rate limit: JSON, no-store, and a `Retry-After` of at most
/// one interval of the rate.
async fn limited(r: Response, max_wait: u64) -> serde_json::Value {
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=max_wait).contains(&wait), "Retry-After {wait}");
    let body = assert_error(r, 429, "temporarily_unavailable").await;
    assert!(body["error_description"].as_str().unwrap().contains("retry later"), "{body}");
    body
}

#[tokio::test]
async fn the_per_address_limit_covers_the_client_endpoints_and_spares_other_addresses() {
    let limits = RateLimits::new(rate("3/min"), None, None);
    let s =
        TestServer::start_with_http(|a| a, HttpSettings { rate_limits: Arc::new(limits), ..Default::default() }).await;
    let c = s.cc_client("default", "x", "a").await;
    let (busy, quiet) = (from("127.0.0.2"), from("127.0.0.3"));
    let token_at = |http: &reqwest::Client| {
        http.post(s.url("default", "/oauth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..3 {
        assert_eq!(token_at(&busy).await.unwrap().status(), 200);
    }
    let body = limited(token_at(&busy).await.unwrap(), 20).await;
    assert!(body["error_description"].as_str().unwrap().contains("this address"), "{body}");
    for path in ["/oauth/introspect", "/oauth/revoke", "/oauth/check_token", "/oauth/revoke_token"] {
        let r = busy.post(s.url("default", path)).basic_auth(&c.id, Some(&c.secret)).form(&[("token", "x")]);
        limited(r.send().await.unwrap(), 20).await;
    }
    assert_eq!(token_at(&quiet).await.unwrap().status(), 200, "another address has its own bucket");
    // Discovery and the sign-in pages are not behind this limit.
    let r = busy.get(s.url("default", "/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(busy.get(s.url("default", "/jwks.json")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_per_client_limit_counts_authenticated_requests_only() {
    let per_client = Some(RateLimiter::new("3/min".parse().unwrap()));
    let s = TestServer::start_configured(|st| st, |a| a.with_client_rate_limit(per_client)).await;
    let (a, b) = (s.cc_client("default", "a", "s").await, s.cc_client("default", "b", "s").await);
    let http = from("127.0.0.2");
    let cc = |id: &str, secret: &str| {
        http.post(s.url("default", "/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // Someone else's wrong secrets do not spend a's budget.
    for i in 0..5 {
        assert_eq!(cc(&a.id, &format!("wrong-{i}")).await.unwrap().status(), 401);
    }
    for _ in 0..3 {
        assert_eq!(cc(&a.id, &a.secret).await.unwrap().status(), 200);
    }
    let body = limited(cc(&a.id, &a.secret).await.unwrap(), 20).await;
    assert!(body["error_description"].as_str().unwrap().contains("this client"), "{body}");
    let token = s.token("default", &b, None).await;
    let r = from("127.0.0.3").post(s.url("default", "/oauth/introspect")).basic_auth(&a.id, Some(&a.secret));
    limited(r.form(&[("token", token.as_str())]).send().await.unwrap(), 20).await;
    assert_eq!(cc(&b.id, &b.secret).await.unwrap().status(), 200, "another client from the same address");
}

#[tokio::test]
async fn the_admin_limits_bite_per_address_and_per_token() {
    let limits = RateLimits::new(None, rate("5/min"), rate("2/min"));
    let s =
        TestServer::start_with_http(|a| a, HttpSettings { rate_limits: Arc::new(limits), ..Default::default() }).await;
    let (t1, t2, t3) = (Api::token_for(&s, None).await, Api::token_for(&s, None).await, Api::token_for(&s, None).await);
    let list =
        |http: &reqwest::Client, token: &str| http.get(format!("{}/admin/realms", s.base)).bearer_auth(token).send();
    let (one, two) = (from("127.0.0.2"), from("127.0.0.3"));
    assert_eq!(list(&one, &t1).await.unwrap().status(), 200);
    assert_eq!(list(&one, &t1).await.unwrap().status(), 200);
    let body = limited(list(&one, &t1).await.unwrap(), 30).await;
    assert!(body["error_description"].as_str().unwrap().contains("admin token"), "{body}");
    assert_eq!(list(&one, &t2).await.unwrap().status(), 200, "another token");
    assert_eq!(list(&one, &t2).await.unwrap().status(), 200);
    let body = limited(list(&one, &t3).await.unwrap(), 12).await;
    assert!(body["error_description"].as_str().unwrap().contains("this address"), "{body}");
    assert_eq!(list(&two, &t3).await.unwrap().status(), 200, "another address");
}

#[tokio::test]
async fn with_the_defaults_the_admin_api_has_no_request_limit() {
    let api = Api::start().await;
    for _ in 0..300 {
        assert_eq!(api.call(reqwest::Method::GET, "/realms", None).await.status(), 200);
    }
}
