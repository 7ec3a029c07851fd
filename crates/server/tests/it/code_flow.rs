//! The authorization code flow with PKCE through the login and consent pages
//! (RFC 6749 §4.1, RFC 7636), and its attacks (SECURITY-CASES A–C).

use portcullis_core::admin::{ClientSpec, RealmSettings};
use portcullis_core::model::GrantType;
use serde_json::Value;

use crate::browser::{
    Browser, REDIRECT, authorize_url, hidden, location, param, pkce_authorize_url, pkce_pair, redirect_params,
};
use crate::harness::{TestClient, TestServer, assert_error};

async fn resource_server(s: &TestServer, realm: &str) -> TestClient {
    s.client_with(realm, ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await
}

/// Runs the flow for a fresh public client and user; returns the client, the verifier
/// and the redirect parameters.
async fn code_for_public_client(s: &TestServer, state: &str) -> (TestClient, String, Vec<(String, String)>) {
    let client = s.code_client("default", "Invoice App", true).await;
    s.user("default", "alice", "correct horse battery", &["admin", "billing"]).await;
    let (verifier, challenge) = pkce_pair();
    let b = Browser::new();
    let params = b
        .authorize_and_allow(
            s,
            "default",
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT),
                ("scope", "invoices.read"),
                ("state", state),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            "alice",
            "correct horse battery",
        )
        .await;
    (client, verifier, params)
}

#[tokio::test]
async fn the_code_flow_issues_tokens_with_authorities() {
    let s = TestServer::start().await;
    let state = "xyz &#<é>";
    let (client, verifier, params) = code_for_public_client(&s, state).await;
    assert_eq!(param(&params, "state").as_deref(), Some(state), "state must come back byte-exact");
    assert_eq!(param(&params, "iss"), Some(s.issuer("default")), "RFC 9207 iss");
    let code = param(&params, "code").unwrap();
    let r = s.exchange("default", &client, &code, Some(&verifier)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "invoices.read");
    assert_eq!(body["authorities"], serde_json::json!(["admin", "billing"]));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("pcrt_"));
    let rs = resource_server(&s, "default").await;
    let info = s.introspect("default", &rs, body["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], "alice");
    assert_eq!(info["authorities"], serde_json::json!(["admin", "billing"]));
    assert_ne!(info["sub"], info["client_id"]);
}

/// A used code presented by another client (of this realm or another) is refused and
/// leaves its owner's tokens alone; only its own client's replay revokes them.
#[tokio::test]
async fn a_used_code_presented_by_another_client_revokes_nothing() {
    let s = TestServer::start().await;
    let (client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let first: Value = s.exchange("default", &client, &code, Some(&verifier)).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let rs = resource_server(&s, "default").await;

    let thief = s.code_client("default", "Thief", false).await;
    let public_thief = s.code_client("default", "Public Thief", true).await;
    s.admin().create_realm("other", &RealmSettings::default()).await.unwrap();
    let elsewhere = s.code_client("other", "Elsewhere", true).await;
    for (realm, presenter) in [("default", &thief), ("default", &public_thief), ("other", &elsewhere)] {
        let r = s.exchange(realm, presenter, &code, Some(&verifier)).await;
        assert_error(r, 400, "invalid_grant").await;
        assert!(s.is_active("default", &rs, access).await, "{realm}: the owner's tokens must stay active");
    }
    let r = s.refresh("default", &client, first["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200, "the owner's refresh token still works");

    // The owner's own replay still revokes the grant.
    assert_error(s.exchange("default", &client, &code, Some(&verifier)).await, 400, "invalid_grant").await;
    assert!(!s.is_active("default", &rs, access).await);
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let s = TestServer::start().await;
    let (client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let first: Value = s.exchange("default", &client, &code, Some(&verifier)).await.json().await.unwrap();
    let again = s.exchange("default", &client, &code, Some(&verifier)).await;
    assert_error(again, 400, "invalid_grant").await;
    let rs = resource_server(&s, "default").await;
    assert!(!s.is_active("default", &rs, first["access_token"].as_str().unwrap()).await);
    let r = s.refresh("default", &client, first["refresh_token"].as_str().unwrap(), None).await;
    assert_error(r, 400, "invalid_grant").await;
}

#[tokio::test]
async fn concurrent_exchanges_of_one_code_yield_exactly_one_success() {
    let s = TestServer::start().await;
    let (client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, url) = (s.http.clone(), s.url("default", "/oauth/token"));
            let form = vec![
                ("grant_type".to_string(), "authorization_code".to_string()),
                ("code".into(), code.clone()),
                ("redirect_uri".into(), REDIRECT.into()),
                ("code_verifier".into(), verifier.clone()),
                ("client_id".into(), client.id.clone()),
            ];
            tokio::spawn(async move { http.post(url).form(&form).send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 15, "{statuses:?}");
}

#[tokio::test]
async fn pkce_is_enforced_at_the_token_endpoint() {
    let s = TestServer::start().await;
    let (client, _verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let wrong = "a".repeat(43);
    assert_error(s.exchange("default", &client, &code, Some(&wrong)).await, 400, "invalid_grant").await;

    let s = TestServer::start().await;
    let (client, _verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    assert_error(s.exchange("default", &client, &code, None).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn codes_expire_and_are_bound_to_client_and_redirect_uri() {
    let s = TestServer::start().await;
    let (client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    s.clock.advance(61);
    assert_error(s.exchange("default", &client, &code, Some(&verifier)).await, 400, "invalid_grant").await;

    let s = TestServer::start().await;
    let (_client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let other = s.code_client("default", "Other", true).await;
    assert_error(s.exchange("default", &other, &code, Some(&verifier)).await, 400, "invalid_grant").await;

    let s = TestServer::start().await;
    let (client, verifier, params) = code_for_public_client(&s, "s").await;
    let code = param(&params, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://app.example/other"),
        ("code_verifier", verifier.as_str()),
        ("client_id", client.id.as_str()),
    ];
    assert_error(s.post_form(&s.url("default", "/oauth/token"), None, &form).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_verifier_for_a_code_issued_without_challenge_is_refused() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "Server App", false).await;
    s.user("default", "bob", "correct horse battery", &[]).await;
    let b = Browser::new();
    let params = b
        .authorize_and_allow(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", &client.id), ("redirect_uri", REDIRECT)],
            "bob",
            "correct horse battery",
        )
        .await;
    let code = param(&params, "code").unwrap();
    let (verifier, _) = pkce_pair();
    assert_error(s.exchange("default", &client, &code, Some(&verifier)).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn unregistered_redirect_uris_get_a_page_never_a_redirect() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    for uri in [
        "https://evil.example/cb",
        "https://app.example/cb/",
        "https://APP.example/cb",
        "https://app.example/cb?x=1",
        "https://app.example/cb/../evil",
        "https://app.example@evil.example/cb",
    ] {
        let url = authorize_url(
            &s,
            "default",
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", uri),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let r = b.get(&url).await;
        assert_eq!(r.status(), 400, "{uri}");
        assert!(r.headers().get("location").is_none(), "{uri} was redirected to");
        assert!(r.text().await.unwrap().contains("redirect_uri"));
    }
    for client_id in ["", "unknown"] {
        let url = authorize_url(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", client_id), ("redirect_uri", REDIRECT)],
        );
        let r = b.get(&url).await;
        assert_eq!(r.status(), 400);
        assert!(r.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn errors_after_the_redirect_is_verified_go_back_to_the_client() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "foo")], "unsupported_response_type"),
        (vec![], "invalid_request"),
        (vec![("response_type", "code"), ("scope", "admin")], "invalid_scope"),
        (vec![("response_type", "code"), ("code_challenge_method", "plain")], "invalid_request"),
        (vec![("response_type", "code"), ("code_challenge_method", "S512")], "invalid_request"),
    ];
    for (extra, expected) in cases {
        let mut q = vec![("client_id", client.id.as_str()), ("redirect_uri", REDIRECT), ("state", "st")];
        q.extend(extra.iter().copied());
        if !q.iter().any(|(k, _)| *k == "code_challenge_method") {
            q.push(("code_challenge_method", "S256"));
        }
        q.push(("code_challenge", &challenge));
        let r = b.get(&authorize_url(&s, "default", &q)).await;
        assert_eq!(r.status(), 303, "{q:?}");
        let params = redirect_params(&location(&r));
        assert_eq!(param(&params, "error").as_deref(), Some(expected), "{q:?}");
        assert_eq!(param(&params, "state").as_deref(), Some("st"));
        assert_eq!(param(&params, "iss"), Some(s.issuer("default")));
    }
    // A public client without PKCE.
    let url = authorize_url(
        &s,
        "default",
        &[("response_type", "code"), ("client_id", &client.id), ("redirect_uri", REDIRECT)],
    );
    let params = redirect_params(&location(&b.get(&url).await));
    assert_eq!(param(&params, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn the_consent_form_needs_its_csrf_token_and_this_browser() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let url = pkce_authorize_url(&s, &client.id, &challenge, &[]);
    let page = b.get(&url).await.text().await.unwrap();
    let request = hidden(&page, "request").unwrap();
    // Login without the CSRF token, or with a wrong one: refused.
    let login = s.url("default", "/oauth/authorize/login");
    for csrf in ["", "wrong"] {
        let r = b
            .post(
                &login,
                &[("request", &request), ("csrf", csrf), ("username", "alice"), ("password", "correct horse battery")],
            )
            .await;
        assert_eq!(r.status(), 403);
    }
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent_url = location(&r);
    // The token is never in a URL (history, logs, Referer): the page carries it.
    let names: Vec<String> = redirect_params(&consent_url).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["request"], "{consent_url}");
    let consent_page = b.get(&consent_url).await.text().await.unwrap();
    let request = hidden(&consent_page, "request").unwrap();
    let csrf = hidden(&consent_page, "csrf").unwrap();
    assert!(!consent_url.contains(&csrf));
    assert_eq!(hidden(&b.get(&consent_url).await.text().await.unwrap(), "csrf"), Some(csrf.clone()), "stable");
    let consent = s.url("default", "/oauth/authorize/consent");
    // Another browser (no session cookie) fetching the page or posting this browser's form.
    let other = Browser::new();
    assert_eq!(other.get(&consent_url).await.status(), 403);
    let r = other.post(&consent, &[("request", &request), ("csrf", &csrf), ("decision", "allow")]).await;
    assert_eq!(r.status(), 403);
    let r = b.post(&consent, &[("request", &request), ("csrf", "nope"), ("decision", "allow")]).await;
    assert_eq!(r.status(), 403);
    let r = b.post(&consent, &[("request", &request), ("decision", "allow")]).await;
    assert_eq!(r.status(), 403, "no token");
    // The real one works once.
    let r = b.post(&consent, &[("request", &request), ("csrf", &csrf), ("decision", "allow")]).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with(REDIRECT));
    let r = b.post(&consent, &[("request", &request), ("csrf", &csrf), ("decision", "allow")]).await;
    assert_eq!(r.status(), 400, "a consent form posted twice issues once");
}

#[tokio::test]
async fn deny_sends_access_denied() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let url = pkce_authorize_url(&s, &client.id, &challenge, &[("state", "s1")]);
    let page = b.get(&url).await.text().await.unwrap();
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent = b.get(&location(&r)).await.text().await.unwrap();
    let r = b.decide(&s, "default", &consent, "deny").await;
    assert_eq!(r.status(), 303);
    let params = redirect_params(&location(&r));
    assert_eq!(param(&params, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&params, "state").as_deref(), Some("s1"));
    assert!(s.admin().grants("default", None, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn consent_is_remembered_for_confidential_clients_only() {
    let s = TestServer::start().await;
    let confidential = s.code_client("default", "Server App", false).await;
    let public = s.code_client("default", "Mobile App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let q = [
        ("response_type", "code"),
        ("client_id", confidential.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "invoices.read"),
    ];
    b.authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    // Signed in and approved: straight back with a code.
    let r = b.get(&authorize_url(&s, "default", &q)).await;
    assert_eq!(r.status(), 303);
    assert!(param(&redirect_params(&location(&r)), "code").is_some());
    // prompt=consent asks again.
    let mut again = q.to_vec();
    again.push(("prompt", "consent"));
    let r = b.get(&authorize_url(&s, "default", &again)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Allow access?"));

    let (_, challenge) = pkce_pair();
    let pq = [
        ("response_type", "code"),
        ("client_id", public.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = b.get(&authorize_url(&s, "default", &pq)).await;
    assert_eq!(r.status(), 200, "signed in, so the consent page directly");
    let page = r.text().await.unwrap();
    b.decide(&s, "default", &page, "allow").await;
    let r = b.get(&authorize_url(&s, "default", &pq)).await;
    assert_eq!(r.status(), 200, "a public client is asked every time");
    assert!(r.text().await.unwrap().contains("Allow access?"));
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", false).await;
    let b = Browser::new();
    let url = authorize_url(
        &s,
        "default",
        &[("response_type", "code"), ("client_id", &client.id), ("redirect_uri", REDIRECT), ("prompt", "none")],
    );
    let r = b.get(&url).await;
    assert_eq!(r.status(), 303);
    assert_eq!(param(&redirect_params(&location(&r)), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn pages_forbid_framing_and_escape_what_they_echo() {
    let s = TestServer::start().await;
    let client = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("<script>alert(1)</script>".into()),
                public: true,
                grant_types: Some(vec![GrantType::AuthorizationCode]),
                redirect_uris: Some(vec![REDIRECT.into()]),
                ..Default::default()
            },
        )
        .await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let url = pkce_authorize_url(&s, &client.id, &challenge, &[]);
    let r = b.get(&url).await;
    let h = r.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.get("access-control-allow-origin").is_none());
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let body = r.text().await.unwrap();
    assert!(!body.contains("<script>alert(1)</script>"));
    assert!(body.contains("&#60;script&#62;") || body.contains("&lt;script&gt;"));
    assert!(body.contains("name=\"username\"") && body.contains("name=\"password\""));
}

#[tokio::test]
async fn implicit_is_off_by_default_and_uses_the_fragment_when_on() {
    let s = TestServer::start().await;
    let settings = RealmSettings { allow_implicit: Some(true), ..Default::default() };
    s.admin().create_realm("legacy", &settings).await.unwrap();
    let spa = s
        .client_with(
            "legacy",
            ClientSpec {
                name: Some("spa".into()),
                public: true,
                grant_types: Some(vec![GrantType::Implicit]),
                redirect_uris: Some(vec![REDIRECT.into()]),
                ..Default::default()
            },
        )
        .await;
    s.user("legacy", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let params = b
        .authorize_and_allow(
            &s,
            "legacy",
            &[("response_type", "token"), ("client_id", &spa.id), ("redirect_uri", REDIRECT), ("state", "f")],
            "alice",
            "correct horse battery",
        )
        .await;
    assert!(param(&params, "access_token").is_some());
    assert_eq!(param(&params, "token_type").as_deref(), Some("Bearer"));
    assert!(param(&params, "refresh_token").is_none());

    // The default realm refuses it even for a client registered for it.
    let spa = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("spa".into()),
                public: true,
                grant_types: Some(vec![GrantType::Implicit]),
                redirect_uris: Some(vec![REDIRECT.into()]),
                ..Default::default()
            },
        )
        .await;
    let url =
        authorize_url(&s, "default", &[("response_type", "token"), ("client_id", &spa.id), ("redirect_uri", REDIRECT)]);
    let r = b.get(&url).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.contains("#"), "implicit errors go in the fragment: {to}");
    assert_eq!(param(&redirect_params(&to), "error").as_deref(), Some("unsupported_response_type"));
}

#[tokio::test]
async fn the_oauth2_crate_exchanges_a_code_with_pkce() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse, TokenUrl,
    };
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &["admin"]).await;
    let oauth = BasicClient::new(ClientId::new(client.id.clone()))
        .set_auth_uri(AuthUrl::new(s.url("default", "/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(s.url("default", "/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("invoices.read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let b = Browser::new();
    let page = b.get(auth_url.as_str()).await.text().await.unwrap();
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent = b.get(&location(&r)).await.text().await.unwrap();
    let r = b.decide(&s, "default", &consent, "allow").await;
    let params = redirect_params(&location(&r));
    assert_eq!(param(&params, "state").as_deref(), Some(csrf.secret().as_str()));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let token = oauth
        .exchange_code(AuthorizationCode::new(param(&params, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange through the oauth2 crate");
    assert_eq!(token.scopes().unwrap(), &vec![Scope::new("invoices.read".into())]);
    assert!(token.refresh_token().is_some());
}

#[tokio::test]
async fn repeated_authorize_parameters_are_refused() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", true).await;
    let (_, challenge) = pkce_pair();
    let b = Browser::new();
    let base = format!(
        "{}?response_type=code&code_challenge={challenge}&code_challenge_method=S256",
        s.url("default", "/oauth/authorize")
    );
    // client_id or redirect_uri twice: a page, since neither can be trusted.
    for extra in [
        format!("&client_id={0}&client_id={0}&redirect_uri={REDIRECT}", client.id),
        format!("&client_id={}&redirect_uri={REDIRECT}&redirect_uri={REDIRECT}", client.id),
    ] {
        let r = b.get(&format!("{base}{extra}")).await;
        assert_eq!(r.status(), 400);
        assert!(r.headers().get("location").is_none());
    }
    // Anything else twice: invalid_request back to the client.
    let r = b.get(&format!("{base}&client_id={}&redirect_uri={REDIRECT}&state=a&state=b", client.id)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(param(&redirect_params(&location(&r)), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn without_redirect_uri_one_registered_uri_is_used_and_several_are_refused() {
    let s = TestServer::start().await;
    let one = s.code_client("default", "One", false).await;
    let two = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("Two".into()),
                grant_types: Some(vec![GrantType::AuthorizationCode]),
                redirect_uris: Some(vec![REDIRECT.into(), "https://app.example/cb2".into()]),
                ..Default::default()
            },
        )
        .await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let r = b.get(&authorize_url(&s, "default", &[("response_type", "code"), ("client_id", &two.id)])).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // With a single registered URI the parameter may be left out, and then the token
    // request may leave it out too.
    let params = b
        .authorize_and_allow(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", &one.id)],
            "alice",
            "correct horse battery",
        )
        .await;
    let code = param(&params, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
    assert_eq!(s.post_form(&s.url("default", "/oauth/token"), Some(&one), &form).await.status(), 200);
}

#[tokio::test]
async fn a_long_state_comes_back_byte_exact_and_prompt_login_asks_again() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let state: String = "ab&#=é/?+%".repeat(200);
    let b = Browser::new();
    let q = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", state.as_str()),
        ("extra", "ignored"),
    ];
    let params = b.authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    assert_eq!(param(&params, "state").as_deref(), Some(state.as_str()));
    let mut again = q.to_vec();
    again.push(("prompt", "login"));
    let r = b.get(&authorize_url(&s, "default", &again)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("name=\"password\""), "prompt=login shows the login page");
    let too_long = "x".repeat(5000);
    let r = b
        .get(&authorize_url(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", &client.id), ("state", &too_long)],
        ))
        .await;
    assert_eq!(param(&redirect_params(&location(&r)), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let q =
        [("response_type", "code"), ("client_id", client.id.as_str()), ("response_mode", "form_post"), ("state", "fp")];
    let page = b.get(&authorize_url(&s, "default", &q)).await.text().await.unwrap();
    let r = b.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent = b.get(&location(&r)).await.text().await.unwrap();
    let r = b.decide(&s, "default", &consent, "allow").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    assert!(hidden(&html, "code").is_some());
    assert_eq!(hidden(&html, "state").as_deref(), Some("fp"));
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")));
}

#[tokio::test]
async fn a_wrong_password_on_the_login_page_shows_the_form_again() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let page = b
        .get(&authorize_url(&s, "default", &[("response_type", "code"), ("client_id", &client.id)]))
        .await
        .text()
        .await
        .unwrap();
    let r = b.login(&s, "default", &page, "alice", "wrong password").await;
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains("Invalid username or password."));
    let r = b.login(&s, "default", &again, "alice", "correct horse battery").await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn the_database_never_holds_a_token_code_secret_or_password_in_the_clear() {
    let s = TestServer::start().await;
    let confidential = s.code_client("default", "Server App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let params = b
        .authorize_and_allow(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", &confidential.id)],
            "alice",
            "correct horse battery",
        )
        .await;
    let code = param(&params, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str())];
    let t: Value =
        s.post_form(&s.url("default", "/oauth/token"), Some(&confidential), &form).await.json().await.unwrap();
    let cc = s.cc_client("default", "svc", "x").await;
    let cc_token = s.token("default", &cc, None).await;
    let db_path = s.database_url.trim_start_matches("sqlite://").to_owned();
    let mut bytes = std::fs::read(&db_path).unwrap();
    bytes.extend(std::fs::read(format!("{db_path}-wal")).unwrap_or_default());
    let haystack = String::from_utf8_lossy(&bytes);
    let secrets = [
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
        code.as_str(),
        confidential.secret.as_str(),
        cc.secret.as_str(),
        cc_token.as_str(),
        "correct horse battery",
    ];
    for secret in secrets {
        // The verifier part is what makes a token usable; the selector is a row id.
        let tail = &secret[secret.len() - 20..];
        assert!(!haystack.contains(tail), "found {tail} in the database");
    }
}

#[tokio::test]
async fn malformed_page_requests_get_an_html_error_page_never_a_framework_rejection() {
    let s = TestServer::start().await;
    let b = Browser::new();
    for path in
        ["/oauth/authorize?client_id=%zz", "/oauth/authorize/consent?request=%", "/oauth/authorize?client_id=%ff"]
    {
        let r = b.get(&s.url("default", path)).await;
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
    }
    let r = b.post(&s.url("default", "/oauth/authorize/login"), &[("request", "nope")]).await;
    assert_eq!(r.status(), 400);
}
