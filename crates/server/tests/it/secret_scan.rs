//! No token, secret or password in a log line or an audit event (SECURITY-CASES #60):
//! a realistic run (admin token, clients and users made through the admin API,
//! every grant, refresh and its reuse, API keys and customer sign-in, introspection
//! and revocation, a code flow, and failures with wrong secrets, wrong passwords, a
//! password typed as a username and a wrong API key), then every server log line of
//! this test binary, captured at debug level (`logs.rs`), and every audit row are
//! searched for every secret the run made or sent.

use portcullis_core::admin::{RealmSettings, UserSpec};
use portcullis_core::audit::AuditKind::*;
use portcullis_core::audit::AuditQuery;
use portcullis_core::model::{TokenFormat, UserKind};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::Api;
use crate::browser::{Browser, param, pkce_pair, pkce_query};
use crate::harness::{TestClient, TestServer};

/// The secret parts of a credential: the whole string and, for the
/// `PREFIX_SELECTOR_…` formats, what follows the selector (the selector is the row's
/// id, shown in audit events by design); for a JWT, its signature.
fn secret_parts(secret: &str) -> Vec<String> {
    let mut parts = vec![secret.to_owned()];
    let segments: Vec<&str> = secret.splitn(4, '_').collect();
    if let Some(i) = segments.iter().position(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())) {
        let tail = segments[i + 1..].join("_");
        if tail.len() >= 16 {
            parts.push(tail);
        }
    }
    if secret.matches('.').count() == 2 {
        parts.extend(secret.rsplit('.').next().map(str::to_owned));
    }
    parts
}

struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, s: impl Into<String>) -> String {
        let s = s.into();
        assert!(s.len() >= 8, "too short to scan for: {s}");
        self.0.push(s.clone());
        s
    }
    fn add_json(&mut self, v: &Value, field: &str) -> String {
        self.add(v[field].as_str().unwrap_or_else(|| panic!("no {field} in {v}")))
    }
}

async fn token(s: &TestServer, realm: &str, c: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    s.post_form(&s.url(realm, "/oauth/token"), Some(c), form).await
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_audit_event() {
    let api = Api::start().await;
    let s = &api.s;
    let mut secrets = Secrets(vec![api.token.clone()]);
    let d = "/realms/default";

    // Made through the admin API: a client (its secret shown once), a user with a
    // password, a new password, a rotated secret.
    let body = json!({"name": "svc", "grant_types": ["client_credentials", "password", "refresh_token"]});
    let c = api.expect(Method::POST, &format!("{d}/clients"), Some(body), 201).await;
    let first_secret = secrets.add_json(&c, "client_secret");
    let id = c["client_id"].as_str().unwrap().to_owned();
    let old_password = secrets.add("first-password-Zq81xv");
    let body = json!({"username": "alice", "password": old_password});
    api.expect(Method::POST, &format!("{d}/users"), Some(body), 201).await;
    let password = secrets.add("second-password-Kp27wm");
    api.expect(Method::POST, &format!("{d}/users/alice/password"), Some(json!({"password": password})), 204).await;
    let rotated = api.expect(Method::POST, &format!("{d}/clients/{id}/secret"), Some(json!({})), 200).await;
    let svc = TestClient { id: id.clone(), secret: secrets.add_json(&rotated, "client_secret") };

    // Every grant of the token endpoint, refresh and its reuse.
    let cc = token(s, "default", &svc, &[("grant_type", "client_credentials")]).await.json::<Value>().await.unwrap();
    let cc_token = secrets.add_json(&cc, "access_token");
    let login = [("grant_type", "password"), ("username", "alice"), ("password", password.as_str())];
    let tokens = token(s, "default", &svc, &login).await.json::<Value>().await.unwrap();
    secrets.add_json(&tokens, "access_token");
    let rt = secrets.add_json(&tokens, "refresh_token");
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
    let refreshed = token(s, "default", &svc, &refresh).await.json::<Value>().await.unwrap();
    secrets.add_json(&refreshed, "access_token");
    secrets.add_json(&refreshed, "refresh_token");
    assert_eq!(token(s, "default", &svc, &refresh).await.status(), 400, "reuse");
    // Introspection, check_token and revocation with the right secret.
    assert!(s.is_active("default", &svc, &cc_token).await);
    s.post_form(&s.url("default", "/oauth/check_token"), Some(&svc), &[("token", &cc_token)]).await;
    let r = s.post_form(&s.url("default", "/oauth/revoke"), Some(&svc), &[("token", &cc_token)]).await;
    assert_eq!(r.status(), 200);

    // Failures: wrong and old secrets at every endpoint (Basic and in the body), a wrong
    // password, a password typed as the username, a wrong admin token.
    let wrong = TestClient { id: id.clone(), secret: secrets.add("wrong-client-secret-Hq73") };
    let old = TestClient { id: id.clone(), secret: first_secret };
    for c in [&wrong, &old] {
        for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/check_token"] {
            let form = [("grant_type", "client_credentials"), ("token", cc_token.as_str())];
            let form = if path == "/oauth/token" { &form[..1] } else { &form[1..] };
            assert_eq!(s.post_form(&s.url("default", path), Some(c), form).await.status(), 401, "{path}");
        }
    }
    let posted =
        [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", wrong.secret.as_str())];
    assert_eq!(s.post_form(&s.url("default", "/oauth/token"), None, &posted).await.status(), 401);
    let bad = secrets.add("wrong-password-Yt55");
    for (user, pass) in [("alice", bad.as_str()), (old_password.as_str(), "x-x-x-x-x")] {
        let form = [("grant_type", "password"), ("username", user), ("password", pass)];
        assert_eq!(token(s, "default", &svc, &form).await.status(), 400);
    }
    let wrong_admin = secrets.add("pcadm_0190aaaabbbbccccddddeeeeffff0000_notTheVerifierOfAnyAdminToken00000000000");
    assert_eq!(api.call_as(Some(&wrong_admin), Method::GET, &format!("{d}/clients"), None).await.status(), 401);

    // A code flow through the login page (the code and a wrong password there too).
    let web = s.code_client("default", "web", true).await;
    s.user("default", "bob", &secrets.add("bobs-password-Ux09"), &[]).await;
    let (verifier, challenge) = pkce_pair();
    let browser = Browser::new();
    let page = browser.get(&crate::browser::authorize_url(s, "default", &pkce_query(&web.id, &challenge))).await;
    let page = page.text().await.unwrap();
    let r = browser.login(s, "default", &page, "bob", &secrets.add("bobs-wrong-password-Rr41")).await;
    assert_eq!(r.status(), 200, "the login page again");
    let params =
        browser.authorize_and_allow(s, "default", &pkce_query(&web.id, &challenge), "bob", "bobs-password-Ux09").await;
    let code = secrets.add(param(&params, "code").unwrap());
    let r = s.exchange("default", &web, &code, Some(&verifier)).await;
    let exchanged: Value = r.json().await.unwrap();
    secrets.add_json(&exchanged, "access_token");
    secrets.add_json(&exchanged, "refresh_token");

    // Apps, API keys and customer sign-in, in a JWT realm.
    let settings = RealmSettings { token_format: Some(TokenFormat::Jwt), ..Default::default() };
    s.admin().create_realm("shop", &settings).await.unwrap();
    api.expect(Method::POST, "/realms/shop/apps", Some(json!({"name": "store"})), 201).await;
    let k = api.expect(Method::POST, "/realms/shop/api-keys", Some(json!({"app": "store"})), 201).await;
    let app = TestClient { id: k["app_id"].as_str().unwrap().to_owned(), secret: secrets.add_json(&k, "key") };
    let customer = UserSpec { username: Some("carol".into()), kind: Some(UserKind::Customer), ..Default::default() };
    let carol_password = secrets.add("carols-password-Wm62");
    s.admin().create_user("shop", &customer, Some(&carol_password)).await.unwrap();
    let login = [("grant_type", "password"), ("username", "carol"), ("password", carol_password.as_str())];
    let r = token(s, "shop", &app, &login).await;
    assert_eq!(r.status(), 200);
    let customer_tokens: Value = r.json().await.unwrap();
    let jwt = secrets.add_json(&customer_tokens, "access_token");
    secrets.add_json(&customer_tokens, "refresh_token");
    let mut wrong_key = app.secret.clone();
    wrong_key.replace_range(wrong_key.len() - 12..wrong_key.len() - 8, "AAAA");
    let stolen = TestClient { id: app.id.clone(), secret: secrets.add(wrong_key) };
    assert_eq!(token(s, "shop", &stolen, &login).await.status(), 401);
    let r = s.post_form(&s.url("shop", "/oauth/revoke"), Some(&app), &[("token", &jwt)]).await;
    assert_eq!(r.status(), 200);

    s.authority.audit.flush().await;
    let mut rows = String::new();
    // The server's events (no realm) too: admin tokens for every realm.
    for realm in [Some("default"), Some("shop"), None] {
        let q = AuditQuery { realm: realm.map(str::to_owned), since: None, kind: None, after: None, limit: 10_000 };
        for e in s.store.list_audit_events(&q).await.unwrap() {
            rows.push_str(&format!("{e:?}\n"));
        }
    }
    let log = crate::logs::captured();
    // The scan covers this run: its requests' spans are in the log, at debug level.
    assert!(
        log.contains("/realms/shop/oauth/revoke") && log.contains("DEBUG"),
        "this run is not in the log capture: {}",
        &log[log.len().saturating_sub(3000)..]
    );
    for kind in [TokenIssued, TokenRevoked, GrantRevoked, RefreshReused, SignInSucceeded, SignInFailed] {
        assert!(rows.contains(&format!("kind: {kind:?}")), "no {kind} event in the audit rows");
    }
    for kind in [ClientAuthFailed, AdminChange] {
        assert!(rows.contains(&format!("kind: {kind:?}")), "no {kind} event in the audit rows");
    }
    for secret in &secrets.0 {
        for part in secret_parts(secret) {
            assert!(!log.contains(&part), "a server log line holds a secret ({part})");
            assert!(!rows.contains(&part), "an audit event holds a secret ({part})");
        }
    }
}

#[test]
fn the_scanner_looks_for_the_secret_part_of_each_format() {
    let opaque = "pcat_0190aaaabbbbccccddddeeeeffff0000_abc-def_ghijklmnopqrstuvwxyz0123456789ABCDEFG";
    assert_eq!(secret_parts(opaque)[1], "abc-def_ghijklmnopqrstuvwxyz0123456789ABCDEFG");
    let key = "pcak_live_0190aaaabbbbccccddddeeeeffff0000_verifierverifierverifier_000000";
    assert_eq!(secret_parts(key)[1], "verifierverifierverifier_000000");
    assert_eq!(secret_parts("aaa.bbb.signaturesignature")[1], "signaturesignature");
    assert_eq!(secret_parts("plain-password-here"), ["plain-password-here"]);
}
