//! The negative suite (SECURITY-CASES A–J, issue 14): one module per endpoint, each
//! sending what attackers and broken clients send. Every case asserts the exact status
//! and RFC error code and that the database holds the same rows afterwards. Cases that
//! an older module already covers are not repeated here; ARCHITECTURE.md's "Security
//! cases and their tests" maps each case to its test.

mod authorize;
mod check_token;
mod introspect;
mod jwks;
mod jwt;
mod pages;
mod revoke;
mod token;

use std::collections::BTreeMap;

use crate::harness::TestServer;

/// Identifier payloads of SECURITY-CASES #56: SQL metacharacters, full-width and
/// astral Unicode, path tricks. (A NUL anywhere in a form is `invalid_request` by
/// design, `params.rs`; the modules test it with the other broken encodings.)
pub const INJECTIONS: &[&str] = &[
    "' OR '1'='1' --",
    "\"; DROP TABLE clients;--",
    "'; DELETE FROM tokens; --",
    "1 UNION SELECT secret_hash FROM clients",
    "\\' OR 1=1 /*",
    "%' OR '%'='",
    "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}",
    "\u{1f600}",
    "../../etc/passwd",
];

/// The row counts now, to compare with after the refused requests.
pub async fn snapshot(s: &TestServer) -> BTreeMap<String, i64> {
    s.row_counts().await
}

/// Nothing was written since `before`, and the server still serves.
pub async fn assert_unchanged(s: &TestServer, before: &BTreeMap<String, i64>, what: &str) {
    assert_eq!(&s.row_counts().await, before, "{what}: a refused request wrote rows");
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{what}: the server stopped serving");
}

/// Like [`assert_unchanged`], for requests with wrong client credentials: those are
/// counted (client-secret throttling, `sign_in_failures`) and nothing else is written.
pub async fn assert_unchanged_but_failure_counters(s: &TestServer, before: &BTreeMap<String, i64>, what: &str) {
    let without = |m: &BTreeMap<String, i64>| {
        m.iter().filter(|(k, _)| *k != "sign_in_failures").map(|(k, v)| (k.clone(), *v)).collect::<BTreeMap<_, _>>()
    };
    assert_eq!(without(&s.row_counts().await), without(before), "{what}: a refused request wrote rows");
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{what}: the server stopped serving");
}

/// A raw form POST: `body` is sent as bytes, exactly.
pub async fn post_raw(
    s: &TestServer,
    url: &str,
    basic: Option<&crate::harness::TestClient>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = s.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body);
    if let Some(c) = basic {
        req = req.basic_auth(&c.id, Some(&c.secret));
    }
    req.send().await.unwrap()
}

/// `value` percent-encoded for a form body.
pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
