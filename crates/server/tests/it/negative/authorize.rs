//! `GET $I/oauth/authorize` under attack: near-miss and loopback redirect URIs, open
//! redirects on every error path, CR/LF in `state`, hostile identifiers and repeated
//! parameters (SECURITY-CASES #1–#3, #5–#8, #56; RFC 9700 §4.1, §4.11.2).

use portcullis_core::admin::ClientSpec;
use portcullis_core::model::GrantType;

use super::{INJECTIONS, assert_unchanged, enc, snapshot};
use crate::browser::{Browser, REDIRECT, authorize_url, location, param, pkce_pair, redirect_params};
use crate::harness::{TestClient, TestServer};

const TENANT: &str = "https://app.example/cb2?tenant=1";

async fn public_client(s: &TestServer, realm: &str, uris: &[&str]) -> TestClient {
    s.client_with(
        realm,
        ClientSpec {
            name: Some(format!("App at {}", uris[0])),
            public: true,
            grant_types: Some(vec![GrantType::AuthorizationCode]),
            redirect_uris: Some(uris.iter().map(|u| u.to_string()).collect()),
            scopes: Some(vec!["invoices.read".into()]),
            ..Default::default()
        },
    )
    .await
}

/// The authorize URL for `client_id` to `redirect_uri` with a valid challenge and `extra`.
fn request(s: &TestServer, realm: &str, client_id: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let (_, challenge) = pkce_pair();
    let mut q = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        q.retain(|(name, _)| name != k);
        q.push((k, v));
    }
    authorize_url(s, realm, &q)
}

/// The error page: 400 HTML, no `Location`, framing forbidden.
async fn assert_page(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 400, "{what}");
    assert!(r.headers().get("location").is_none(), "{what}: redirected to {:?}", r.headers().get("location"));
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{what}");
    assert_eq!(r.headers()["x-frame-options"], "DENY", "{what}");
}

/// RFC 9700 §4.1.3: exact string comparison. Every near miss of SECURITY-CASES #2,
/// URL-encoded in the query as a browser sends it, gets the page and stores nothing;
/// the registered URI with its query is the positive control.
#[tokio::test]
async fn near_miss_redirect_uris_get_a_page_and_store_nothing() {
    let s = TestServer::start().await;
    let c = public_client(&s, "default", &[REDIRECT, TENANT]).await;
    let b = Browser::new();
    let before = snapshot(&s).await;
    for uri in [
        "https://app.example/cb/",
        "https://app.example/CB",
        "HTTPS://APP.EXAMPLE/cb",
        "https://app.example/cb ",
        " https://app.example/cb",
        "http://app.example/cb",
        "https://app.example:443/cb",
        "https://app.example:444/cb",
        "https://app.example/cb?x=1",
        "https://app.example/cb?",
        "https://app.example/cb#x",
        "https://app.example/cb#",
        "https://app.example/cb/x",
        "https://app.example/cb/../evil",
        "https://app.example/cb/%2e%2e/evil",
        "https://app.example/%63b",
        "https://app.example/cb%252f..%252fevil",
        "https://app.example/cb/..;/evil",
        "https://app.example.evil.example/cb",
        "https://evil.example/https://app.example/cb",
        "https://app.example@evil.example/cb",
        "https://user@app.example/cb",
        "https://a@b@evil.example/cb",
        "https://app.example\\@evil.example/cb",
        "https://app.example/c\tb",
        "https://app.example/cb\r\nLocation: https://evil.example",
        "https://app.example/cb\n",
        "https://app.example/cb%00",
        "https://app.example/cb\u{0}",
        "https://app.exampl\u{0435}/cb",
        "https://app.example/cb2?tenant=2",
        "https://app.example/cb2?tenant=1&x=1",
        "https://app.example/cb2",
        "//evil.example/cb",
        "javascript:alert(1)//https://app.example/cb",
    ] {
        assert_page(b.get(&request(&s, "default", &c.id, uri, &[])).await, uri).await;
    }
    assert_unchanged(&s, &before, "near-miss redirect URIs").await;
    // Positive control: the registered URI with its query is accepted as it is.
    assert_eq!(b.get(&request(&s, "default", &c.id, TENANT, &[])).await.status(), 200);
    let r = b.get(&request(&s, "default", &c.id, TENANT, &[("scope", "admin")])).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("https://app.example/cb2?tenant=1&"), "{to}");
    assert_eq!(param(&redirect_params(&to), "error").as_deref(), Some("invalid_scope"));
}

/// RFC 8252 §7.3: for a loopback URI only the port may vary (SECURITY-CASES #3).
#[tokio::test]
async fn loopback_redirect_uris_vary_only_in_their_port() {
    let s = TestServer::start().await;
    let native = public_client(&s, "default", &["http://127.0.0.1/cb"]).await;
    let web = public_client(&s, "default", &[REDIRECT]).await;
    let b = Browser::new();
    for ok in ["http://127.0.0.1:53412/cb", "http://127.0.0.1/cb"] {
        assert_eq!(b.get(&request(&s, "default", &native.id, ok, &[])).await.status(), 200, "{ok}");
    }
    let before = snapshot(&s).await;
    for bad in [
        "http://127.0.0.1:53412/cb?bar=foo",
        "http://localhost:53412/cb",
        "http://localhost/cb",
        "http://[::1]:53412/cb",
        "http://127.0.0.2:53412/cb",
        "http://127.0.0.1:53412/cb/",
        "https://127.0.0.1:53412/cb",
        "http://localhost:80@evil.example/",
        "http://127.0.0.1:80@evil.example/cb",
        "http://127.0.0.1.evil.example:53412/cb",
    ] {
        assert_page(b.get(&request(&s, "default", &native.id, bad, &[])).await, bad).await;
    }
    assert_page(b.get(&request(&s, "default", &web.id, "http://127.0.0.1/cb", &[])).await, "web client").await;
    assert_unchanged(&s, &before, "loopback near misses").await;
}

/// No error path redirects before the client and its redirect URI are trusted
/// (RFC 9700 §4.11.2, SECURITY-CASES #5–#7): an unknown, disabled or other realm's
/// client, and every later error with an unregistered URI, get the page.
#[tokio::test]
async fn no_error_path_is_an_open_redirect() {
    let s = TestServer::start().await;
    s.admin().create_realm("other", &Default::default()).await.unwrap();
    let c = public_client(&s, "default", &[REDIRECT]).await;
    let elsewhere = public_client(&s, "other", &["https://evil.example/cb"]).await;
    let disabled = public_client(&s, "default", &["https://evil.example/cb"]).await;
    s.admin()
        .update_client("default", &disabled.id, &ClientSpec { disabled: Some(true), ..Default::default() })
        .await
        .unwrap();
    let b = Browser::new();
    let evil = "https://evil.example/cb";
    let before = snapshot(&s).await;
    assert_page(b.get(&request(&s, "default", &elsewhere.id, evil, &[])).await, "other realm's client").await;
    assert_page(b.get(&request(&s, "default", &disabled.id, evil, &[])).await, "disabled client").await;
    assert_page(b.get(&request(&s, "default", "no-such-client", evil, &[])).await, "unknown client").await;
    assert_page(b.get(&request(&s, "default", "", evil, &[])).await, "empty client").await;
    for extra in [
        vec![("response_type", "token")],
        vec![("response_type", "foo")],
        vec![("response_type", "")],
        vec![("scope", "admin")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge", "short")],
        vec![("prompt", "none")],
        vec![("response_mode", "form_post")],
        vec![("state", "a"), ("code_challenge_method", "S512")],
    ] {
        assert_page(b.get(&request(&s, "default", &c.id, evil, &extra)).await, &format!("{extra:?}")).await;
    }
    // The same errors with the registered URI go back to it, with state and iss.
    for (extra, code) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("scope", "admin")], "invalid_scope"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let r = b.get(&request(&s, "default", &c.id, REDIRECT, &extra)).await;
        assert_eq!(r.status(), 303, "{extra:?}");
        let params = redirect_params(&location(&r));
        assert_eq!(param(&params, "error").as_deref(), Some(code), "{extra:?}");
        assert_eq!(param(&params, "iss"), Some(s.issuer("default")));
    }
    assert_unchanged(&s, &before, "open redirect attempts").await;
}

/// A `state` carrying CR/LF and a header never splits the response (SECURITY-CASES
/// #9, #14): it comes back percent-encoded in the Location and byte-exact to the
/// client, and no injected header appears.
#[tokio::test]
async fn crlf_in_state_never_reaches_a_header() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let state = "s\r\nSet-Cookie: pwned=1\r\nLocation: https://evil.example/\r\n\r\n<script>";
    let b = Browser::new();
    let r = b.get(&request(&s, "default", &c.id, REDIRECT, &[("state", state), ("scope", "admin")])).await;
    assert_eq!(r.status(), 303);
    let raw = r.headers()["location"].as_bytes().to_vec();
    assert!(!raw.iter().any(|b| *b == b'\r' || *b == b'\n'), "raw CR/LF in Location");
    assert!(r.headers().get_all("set-cookie").iter().all(|v| !v.to_str().unwrap().contains("pwned")));
    assert_eq!(r.headers().get_all("location").iter().count(), 1);
    assert_eq!(param(&redirect_params(&location(&r)), "state").as_deref(), Some(state));
    // Through the whole flow too.
    let q = [("response_type", "code"), ("client_id", c.id.as_str()), ("redirect_uri", REDIRECT), ("state", state)];
    let params = b.authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    assert_eq!(param(&params, "state").as_deref(), Some(state));
}

/// SQL metacharacters as the client_id, the redirect URI and the realm in the path:
/// the page or 404, nothing stored (SECURITY-CASES #56).
#[tokio::test]
async fn hostile_identifiers_get_the_page_or_404() {
    let s = TestServer::start().await;
    let c = public_client(&s, "default", &[REDIRECT]).await;
    let b = Browser::new();
    let before = snapshot(&s).await;
    for p in INJECTIONS {
        assert_page(b.get(&request(&s, "default", p, REDIRECT, &[])).await, p).await;
        assert_page(b.get(&request(&s, "default", &c.id, p, &[])).await, p).await;
        let realm = enc(p).replace('+', "%20");
        let url = format!("{}/realms/{realm}/oauth/authorize?response_type=code&client_id={}", s.base, c.id);
        let r = b.get(&url).await;
        assert_eq!(r.status(), 404, "{p}");
        assert!(r.headers().get("location").is_none());
    }
    assert_unchanged(&s, &before, "hostile identifiers").await;
}

/// Parameters other than client_id and redirect_uri sent twice (RFC 6749 §3.1):
/// `invalid_request` back to the verified client, never one of the values picked.
#[tokio::test]
async fn repeated_parameters_are_invalid_request_back_to_the_client() {
    let s = TestServer::start().await;
    let c = public_client(&s, "default", &[REDIRECT]).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let base =
        format!("{}?client_id={}&redirect_uri={}&state=st", s.url("default", "/oauth/authorize"), c.id, enc(REDIRECT));
    let before = snapshot(&s).await;
    for rest in [
        format!("&response_type=code&response_type=code&code_challenge={challenge}&code_challenge_method=S256"),
        format!("&response_type=code&code_challenge={challenge}&code_challenge=x&code_challenge_method=S256"),
        format!(
            "&response_type=code&code_challenge={challenge}&code_challenge_method=S256&code_challenge_method=plain"
        ),
        format!(
            "&response_type=code&code_challenge={challenge}&code_challenge_method=S256&scope=a&scope=invoices.read"
        ),
        format!("&response_type=code&code_challenge={challenge}&code_challenge_method=S256&prompt=none&prompt=login"),
    ] {
        let r = b.get(&format!("{base}{rest}")).await;
        assert_eq!(r.status(), 303, "{rest}");
        let params = redirect_params(&location(&r));
        assert_eq!(param(&params, "error").as_deref(), Some("invalid_request"), "{rest}");
        assert!(param(&params, "code").is_none());
    }
    assert_unchanged(&s, &before, "repeated parameters").await;
}
