//! The login and consent pages under attack: framing of every page, tampered consent
//! forms, CSRF tokens from elsewhere, hostile usernames and broken form bodies
//! (SECURITY-CASES #10, #11, #13, #14, #56, #58; RFC 6749 §10.12–10.13, RFC 9700 §4.16).

use serde_json::Value;

use super::{INJECTIONS, assert_unchanged, snapshot};
use crate::browser::{Browser, REDIRECT, hidden, location, param, pkce_authorize_url, pkce_pair, redirect_params};
use crate::harness::TestServer;

/// The headers every page carries: no framing (RFC 9700 §4.16), no referrer, no cache.
fn assert_page_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert!(h.get("access-control-allow-origin").is_none(), "{what}");
}

/// A browser at the consent page of a fresh public client; returns the page.
async fn at_consent(s: &TestServer, b: &Browser) -> (String, String, String) {
    let c = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let (verifier, challenge) = pkce_pair();
    let page =
        b.get(&pkce_authorize_url(s, &c.id, &challenge, &[("scope", "invoices.read")])).await.text().await.unwrap();
    let r = b.login(s, "default", &page, "alice", "correct horse battery").await;
    let consent_url = location(&r);
    let r = b.get(&consent_url).await;
    assert_page_headers(&r, "consent page");
    (c.id, verifier, r.text().await.unwrap())
}

/// The consent page, the login page shown again after a wrong password, and the error
/// pages (bad request, forbidden) all forbid framing; the login page is in code_flow.rs.
#[tokio::test]
async fn every_page_forbids_framing() {
    let s = TestServer::start().await;
    let b = Browser::new();
    let (client_id, _, consent) = at_consent(&s, &b).await;
    let r = b.decide(&s, "default", &consent.replace(&hidden(&consent, "csrf").unwrap(), "forged"), "allow").await;
    assert_eq!(r.status(), 403);
    assert_page_headers(&r, "forbidden page");
    let r = b.get(&s.url("default", "/oauth/authorize?client_id=nope")).await;
    assert_eq!(r.status(), 400);
    assert_page_headers(&r, "error page");
    let (_, challenge) = pkce_pair();
    let other = Browser::new();
    let page = other.get(&pkce_authorize_url(&s, &client_id, &challenge, &[])).await.text().await.unwrap();
    let r = other.login(&s, "default", &page, "alice", "wrong").await;
    assert_eq!(r.status(), 200);
    assert_page_headers(&r, "login page again");
}

/// Fields added to the consent form (scope, client_id, redirect_uri, state) are
/// ignored: the server acts on its stored request (CVE-2018-15758), the redirect goes
/// to the registered URI with the requested scope only, and 303 never 307 (#13).
#[tokio::test]
async fn a_tampered_consent_form_changes_nothing() {
    let s = TestServer::start().await;
    let b = Browser::new();
    let (client_id, verifier, consent) = at_consent(&s, &b).await;
    let request = hidden(&consent, "request").unwrap();
    let csrf = hidden(&consent, "csrf").unwrap();
    let r = b
        .post(
            &s.url("default", "/oauth/authorize/consent"),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("decision", "allow"),
                ("scope", "invoices.read invoices.write admin"),
                ("redirect_uri", "https://evil.example/cb"),
                ("client_id", "someone-else"),
                ("state", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
    let params = redirect_params(&to);
    assert_eq!(param(&params, "state"), None, "no state was requested");
    let code = param(&params, "code").unwrap();
    let c = crate::harness::TestClient { id: client_id, secret: String::new() };
    let t: Value = s.exchange("default", &c, &code, Some(&verifier)).await.json().await.unwrap();
    assert_eq!(t["scope"], "invoices.read");
}

/// A decision other than allow or deny, a request id of another browser with this
/// browser's CSRF token, or a broken body: refused, no code, no consent stored.
#[tokio::test]
async fn consent_posts_that_do_not_fit_are_refused_and_store_nothing() {
    let s = TestServer::start().await;
    let b = Browser::new();
    let (client_id, _, consent) = at_consent(&s, &b).await;
    let request = hidden(&consent, "request").unwrap();
    let csrf = hidden(&consent, "csrf").unwrap();
    // A second browser with a pending request of its own.
    let other = Browser::new();
    let (_, challenge) = pkce_pair();
    let page = other.get(&pkce_authorize_url(&s, &client_id, &challenge, &[])).await.text().await.unwrap();
    let theirs = hidden(&page, "request").unwrap();
    let url = s.url("default", "/oauth/authorize/consent");
    let before = snapshot(&s).await;
    for (form, status) in [
        (vec![("request", request.as_str()), ("csrf", csrf.as_str()), ("decision", "maybe")], 400),
        (vec![("request", request.as_str()), ("csrf", csrf.as_str())], 400),
        (vec![("request", theirs.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")], 403),
        (vec![("request", "' OR 1=1--"), ("csrf", csrf.as_str()), ("decision", "allow")], 400),
    ] {
        let r = b.post(&url, &form).await;
        assert_eq!(r.status(), status, "{form:?}");
        assert!(r.headers().get("location").is_none(), "{form:?}");
    }
    let r = b
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("request={request}&csrf={csrf}&decision=allow&decision=deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a repeated decision");
    let r = b
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"request=\xff&decision=allow".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "invalid UTF-8");
    assert_unchanged(&s, &before, "consent posts").await;
    assert_eq!(b.decide(&s, "default", &consent, "allow").await.status(), 303, "the real form still works");
}

/// Hostile usernames at the login form are a failed sign-in: the form again, no
/// session. Only the sign-in failure counters change, as designed.
#[tokio::test]
async fn hostile_usernames_at_the_login_form_are_a_failed_sign_in() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let (_, challenge) = pkce_pair();
    let mut page = b.get(&pkce_authorize_url(&s, &c.id, &challenge, &[])).await.text().await.unwrap();
    let mut before = snapshot(&s).await;
    for p in INJECTIONS {
        let r = b.login(&s, "default", &page, p, p).await;
        assert_eq!(r.status(), 200, "{p}");
        page = r.text().await.unwrap();
        assert!(page.contains("Invalid username or password."), "{p}");
    }
    let mut after = snapshot(&s).await;
    for counters in ["sign_in_failures", "login_attempts"] {
        before.remove(counters);
        after.remove(counters);
    }
    assert_eq!(after, before);
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    assert_eq!(r.status(), 303, "the real sign-in still works");
}

/// Values a page echoes (`state` in the form_post page, the client's name on the
/// consent page) are HTML-escaped, and the form_post page runs only its own nonce'd
/// script (SECURITY-CASES #14).
#[tokio::test]
async fn echoed_values_are_escaped_in_the_form_post_page() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let state = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let q = [("response_type", "code"), ("client_id", c.id.as_str()), ("response_mode", "form_post"), ("state", state)];
    let page = b.get(&crate::browser::authorize_url(&s, "default", &q)).await.text().await.unwrap();
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent = b.get(&location(&r)).await.text().await.unwrap();
    let r = b.decide(&s, "default", &consent, "allow").await;
    assert_eq!(r.status(), 200);
    assert_page_headers(&r, "form_post page");
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("alert(1)"), "the state is there, escaped");
}
