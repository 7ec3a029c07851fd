//! `GET $I/jwks.json` and metadata for hostile and unknown realms (SECURITY-CASES #46,
//! #52, #56): 404 JSON with no fallback to another realm's keys, and a symmetric realm
//! publishing no key at all (its secret must never appear).

use portcullis_core::model::{SigningAlg, TokenFormat};
use serde_json::Value;

use super::{INJECTIONS, enc};
use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn unknown_and_hostile_realms_are_404_with_no_fallback() {
    let s = TestServer::start().await;
    for p in INJECTIONS.iter().copied().chain(["DEFAULT", "default ", "default%2f..", "..", "%2e%2e"]) {
        let realm = if p.contains('%') { p.to_owned() } else { enc(p).replace('+', "%20") };
        for path in ["/jwks.json", "/.well-known/oauth-authorization-server"] {
            let r = s.http.get(format!("{}/realms/{realm}{path}", s.base)).send().await.unwrap();
            assert_eq!(r.status(), 404, "{p} {path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "not_found", "{p} {path}");
        }
    }
    let r = s.http.post(s.url("default", "/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn an_hmac_realm_never_publishes_its_secret() {
    let s = TestServer::start().await;
    s.realm("h", TokenFormat::Jwt, SigningAlg::Hs256).await;
    let c = s.cc_client("h", "x", "a").await;
    let t = s.token("h", &c, None).await;
    let record = &s.store.signing_keys("h", portcullis_core::clock::Clock::now(s.clock.as_ref())).await.unwrap()[0];
    let jwks = s.http.get(s.url("h", "/jwks.json")).send().await.unwrap().text().await.unwrap();
    let metadata = s.http.get(s.url("h", "/.well-known/oauth-authorization-server")).send().await.unwrap();
    let metadata = metadata.text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&jwks).unwrap()["keys"], serde_json::json!([]));
    for text in [&jwks, &metadata] {
        assert!(!text.contains(&record.private_pem), "the HMAC secret is published");
    }
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    for (name, values) in metadata.as_object().unwrap() {
        if name.ends_with("signing_alg_values_supported") {
            assert!(
                !values.as_array().unwrap().iter().any(|v| v.as_str().unwrap().eq_ignore_ascii_case("none")),
                "{name}"
            );
        }
    }
    // A token of the HMAC realm is not accepted at a realm without that secret.
    s.realm("h2", TokenFormat::Jwt, SigningAlg::Hs256).await;
    let c2 = s.cc_client("h2", "x", "a").await;
    assert!(!s.is_active("h2", &c2, &t).await);
    let r = s.post_form(&s.url("h2", "/oauth/check_token"), Some(&c2), &[("token", &t)]).await;
    assert_error(r, 400, "invalid_token").await;
}
