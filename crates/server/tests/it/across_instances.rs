//! Three instances behind one public URL on one PostgreSQL, as behind a load balancer
//! (issue 14, "Several instances on one PostgreSQL"; SECURITY-CASES R12): whatever one
//! instance revokes is dead at the others before the revoking call returns, however
//! warm their caches; a key rotation reaches their JWKS at once and their signing
//! within the key cache's bound; a browser's sign-in moves freely between them.

use std::time::Duration;

use portcullis_core::model::{SigningAlg, TokenFormat};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::Api;
use crate::browser::{Browser, REDIRECT, hidden, location, param, pkce_pair, pkce_query, redirect_params};
use crate::harness::{Peer, TestClient, TestServer, on_postgres};
use crate::organizations::{REALM as ORG_REALM, customer_tokens, key, org};

const PASSWORD: &str = "correct horse battery";

/// `s` and two more instances behind its URL, each with its own pool and caches.
async fn trio(s: TestServer) -> [TestServer; 3] {
    let b = s.behind_one_url().await;
    let c = s.behind_one_url().await;
    [s, b, c]
}

/// An admin API call at `s`; the status and the JSON body (null when empty).
async fn admin(s: &TestServer, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s.http.request(method, format!("{}/admin{path}", s.base)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

async fn sign_in(s: &TestServer, realm: &str, c: &TestClient) -> (String, String) {
    let form = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
    let r = s.post_form(&s.url(realm, "/oauth/token"), Some(c), &form).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    (t["access_token"].as_str().unwrap().to_owned(), t["refresh_token"].as_str().unwrap().to_owned())
}

/// Every instance's answer for each of `tokens`, as the resource server `rs`.
async fn actives(all: &[TestServer], realm: &str, rs: &TestClient, tokens: &[&str]) -> Vec<bool> {
    let mut out = Vec::new();
    for s in all {
        for t in tokens {
            out.push(s.is_active(realm, rs, t).await);
        }
    }
    out
}

fn resource_server(s: &TestServer, realm: &str) -> impl Future<Output = TestClient> {
    let spec = portcullis_core::admin::ClientSpec {
        name: Some("rs".into()),
        resource_server: Some(true),
        ..Default::default()
    };
    s.client_with(realm, spec)
}

/// Opaque and JWT tokens of a grant issued at B, seen (and cached) at every instance,
/// die everywhere when A's admin API revokes the grant; C refuses their refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_revoked_at_one_instance_is_dead_at_every_other() {
    on_postgres("a_grant_revoked_at_one_instance_is_dead_at_every_other", |s| async move {
        let all = trio(s).await;
        let [a, b, c] = &all;
        a.realm("jwt", TokenFormat::Jwt, SigningAlg::Es256).await;
        let token = Api::token_for(a, None).await;
        for realm in ["default", "jwt"] {
            let client = a.password_client(realm, "app").await;
            let rs = resource_server(a, realm).await;
            a.user(realm, "alice", PASSWORD, &[]).await;
            let (access, refresh) = sign_in(b, realm, &client).await;
            assert_eq!(actives(&all, realm, &rs, &[&access, &refresh]).await, [true; 6], "{realm}");
            assert!(c.is_active(realm, &client, &access).await, "the client itself, cached at C");

            let (_, grants) = admin(a, &token, Method::GET, &format!("/realms/{realm}/grants"), None).await;
            let id = grants["items"][0]["id"].as_str().unwrap().to_owned();
            let (status, _) =
                admin(a, &token, Method::POST, &format!("/realms/{realm}/grants/{id}/revoke"), None).await;
            assert!(status < 300, "{status}");

            assert_eq!(actives(&all, realm, &rs, &[&access, &refresh]).await, [false; 6], "{realm}");
            assert!(!c.is_active(realm, &client, &access).await);
            assert_eq!(c.refresh(realm, &client, &refresh, None).await.status(), 400);
        }
    })
    .await;
}

/// A client disabled, deleted, or given a new secret at A: B and C, both holding it
/// in their client caches, refuse its old credentials and its tokens at once; after a
/// rotation the new secret works at once everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_changed_at_one_instance_is_changed_at_every_other() {
    on_postgres("a_client_changed_at_one_instance_is_changed_at_every_other", |s| async move {
        let all = trio(s).await;
        let [a, b, c] = &all;
        let token = Api::token_for(a, None).await;
        let rs = resource_server(a, "default").await;
        for change in ["disable", "delete", "rotate"] {
            let client = a.cc_client("default", change, "x").await;
            // Warm every cache: B authenticates it for client_credentials, C for
            // introspection, and every instance has read the token.
            let t = b.token("default", &client, None).await;
            assert!(c.is_active("default", &client, &t).await);
            assert_eq!(actives(&all, "default", &rs, &[&t]).await, [true; 3]);

            let path = format!("/realms/default/clients/{}", client.id);
            let (status, body) = match change {
                "disable" => admin(a, &token, Method::PATCH, &path, Some(json!({"disabled": true}))).await,
                "delete" => admin(a, &token, Method::DELETE, &path, None).await,
                _ => admin(a, &token, Method::POST, &format!("{path}/secret"), Some(json!({}))).await,
            };
            assert!(status < 300, "{change}: {status} {body}");

            assert_eq!(actives(&all, "default", &rs, &[&t]).await, [false; 3], "{change}");
            // Introspection at C first: a refused token request would drop C's copy.
            for s in [c, b, a] {
                let r = s.post_form(&s.url("default", "/oauth/introspect"), Some(&client), &[("token", &t)]).await;
                assert_eq!(r.status(), 401, "{change}: introspection with the old credentials at {}", s.base);
            }
            for s in [b, c, a] {
                let cc = [("grant_type", "client_credentials")];
                let r = s.post_form(&s.url("default", "/oauth/token"), Some(&client), &cc).await;
                assert_eq!(r.status(), 401, "{change}: the old credentials at {}", s.base);
            }
            if change == "rotate" {
                let renewed =
                    TestClient { id: client.id.clone(), secret: body["client_secret"].as_str().unwrap().into() };
                for s in [c, b, a] {
                    let fresh = s.token("default", &renewed, None).await;
                    assert_eq!(actives(&all, "default", &rs, &[&fresh]).await, [true; 3]);
                }
            }
        }
    })
    .await;
}

/// Customer tokens issued through `app` at B, active at every instance (read there,
/// so cached where anything is), and the key itself too.
async fn live(all: &[TestServer; 3], rs: &TestClient, app: &TestClient) -> (String, String) {
    let t = customer_tokens(&all[1], app).await;
    let (access, refresh) =
        (t["access_token"].as_str().unwrap().to_owned(), t["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(actives(all, ORG_REALM, rs, &[&access, &refresh, &app.secret]).await, [true; 9]);
    (access, refresh)
}

/// Customer tokens issued through an app's API key at B, seen at every instance, die
/// everywhere when A resets the app; the key stops working at B at once. Then a new key
/// of the app, revoked at A, likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_reset_or_key_revoked_at_one_instance_is_dead_at_every_other() {
    on_postgres("an_app_reset_or_key_revoked_at_one_instance_is_dead_at_every_other", |s| async move {
        let all = trio(s).await;
        let [a, b, c] = &all;
        let o = org(a, TokenFormat::Opaque).await;
        let token = Api::token_for(a, None).await;
        let (access, refresh) = live(&all, &o.rs, &o.app).await;
        let (status, body) =
            admin(a, &token, Method::POST, &format!("/realms/{ORG_REALM}/apps/storefront/reset"), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(actives(&all, ORG_REALM, &o.rs, &[&access, &refresh, &o.app.secret]).await, [false; 9]);
        let form = [("grant_type", "password"), ("username", "carol"), ("password", PASSWORD)];
        let r = b.post_form(&b.url(ORG_REALM, "/oauth/token"), Some(&o.app), &form).await;
        assert_eq!(r.status(), 401, "the reset key at B");

        let second = key(a, "storefront", &["orders.read"], false).await;
        let (access, refresh) = live(&all, &o.rs, &second).await;
        let (_, keys) = admin(a, &token, Method::GET, &format!("/realms/{ORG_REALM}/api-keys"), None).await;
        let id = keys["items"].as_array().unwrap().iter().find(|k| k["revoked_at"].is_null()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, body) =
            admin(a, &token, Method::POST, &format!("/realms/{ORG_REALM}/api-keys/{id}/revoke"), None).await;
        assert!(status < 300, "{body}");
        assert_eq!(actives(&all, ORG_REALM, &o.rs, &[&access, &refresh, &second.secret]).await, [false; 9]);
        let r = c.post_form(&c.url(ORG_REALM, "/oauth/token"), Some(&second), &form).await;
        assert_eq!(r.status(), 401, "the revoked key at C");
    })
    .await;
}

/// A rotation through A's admin API: A signs with the new key at once; every
/// instance publishes both keys at once and verifies the new key's tokens at once
/// (an unknown `kid` reloads the ring); B, which had its ring cached, signs with the new
/// key once its key cache has expired (`KEY_CACHE_TTL`, here shortened to 200 ms), and
/// what it signed with the old key meanwhile stays valid everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_rotated_at_one_instance_is_published_everywhere_and_signs_everywhere() {
    on_postgres("a_key_rotated_at_one_instance_is_published_everywhere_and_signs_everywhere", |a| async move {
        const TTL: Duration = Duration::from_millis(200);
        let quick = || Peer { public_url: Some(a.base.clone()), key_cache_ttl: Some(TTL), ..Peer::sharing_clock(&a) };
        let b = a.peer(quick()).await;
        let c = a.peer(quick()).await;
        a.realm("jwt", TokenFormat::Jwt, SigningAlg::Es256).await;
        let client = a.cc_client("jwt", "svc", "x").await;
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        let published = async |s: &TestServer| -> Vec<String> {
            let set: Value = s.http.get(s.url("jwt", "/jwks.json")).send().await.unwrap().json().await.unwrap();
            set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
        };
        // Every instance has the old ring cached.
        let before = [a.token("jwt", &client, None).await, b.token("jwt", &client, None).await];
        let old_kid = kid(&before[0]);
        assert!(c.is_active("jwt", &client, &before[1]).await);

        let token = Api::token_for(&a, None).await;
        let (status, body) = admin(&a, &token, Method::POST, "/realms/jwt/keys/rotate", None).await;
        assert_eq!(status, 200, "{body}");
        let new_kid = body["kid"].as_str().unwrap().to_owned();
        let from_a = a.token("jwt", &client, None).await;
        assert_eq!(kid(&from_a), new_kid);
        // B may sign with the old key until its key cache expires.
        let late = b.token("jwt", &client, None).await;
        // Every instance publishes both keys at once, its cached ring notwithstanding
        // (the JWKS reads the database and leaves the cache alone).
        for s in [&c, &b, &a] {
            let kids = published(s).await;
            assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{}: {kids:?}", s.base);
        }
        // C, its old ring cached a moment ago, verifies the new key at once.
        assert!(c.is_active("jwt", &client, &from_a).await, "an unknown kid reloads the ring");
        // B has used nothing of the new key; its cache expires and it signs with it.
        tokio::time::sleep(TTL + Duration::from_millis(50)).await;
        assert_eq!(kid(&b.token("jwt", &client, None).await), new_kid, "B after its key cache expired");
        for t in before.iter().chain([&late, &from_a]) {
            for s in [&a, &b, &c] {
                assert!(s.is_active("jwt", &client, t).await, "a token of either key stays valid at {}", s.base);
            }
        }
    })
    .await;
}

/// Authorize at A, sign in at B, the consent page at C, allow at A, exchange at B:
/// the browser session and the pending request live in the database, so the flow
/// continues whichever instance each request reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_browser_sign_in_continues_on_whichever_instance_it_reaches() {
    on_postgres("a_browser_sign_in_continues_on_whichever_instance_it_reaches", |s| async move {
        let all = trio(s).await;
        let [a, b, c] = &all;
        let client = a.code_client("default", "web", true).await;
        a.user("default", "alice", PASSWORD, &[]).await;
        let (verifier, challenge) = pkce_pair();
        let browser = Browser::new();
        // Behind one URL, the instances' own addresses differ only in the port, and
        // cookies ignore ports: one browser talks to all three.
        let at = |s: &TestServer, url: &str| url.replacen(s.public_url(), &s.base, 1);

        let r = browser.get(&crate::browser::authorize_url(a, "default", &pkce_query(&client.id, &challenge))).await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        let r = browser.login(b, "default", &page, "alice", PASSWORD).await;
        assert_eq!(r.status(), 303, "B accepts the login form A served");
        let consent = at(c, &location(&r));
        let r = browser.get(&consent).await;
        assert_eq!(r.status(), 200, "C shows the consent page of B's session");
        let page = r.text().await.unwrap();
        assert!(hidden(&page, "csrf").is_some());
        let r = browser.decide(a, "default", &page, "allow").await;
        assert_eq!(r.status(), 303, "A takes the consent given on C's page");
        let to = location(&r);
        assert!(to.starts_with(REDIRECT), "{to}");
        let code = param(&redirect_params(&to), "code").unwrap();
        let r = b.exchange("default", &client, &code, Some(&verifier)).await;
        assert_eq!(r.status(), 200);
        let t: Value = r.json().await.unwrap();
        let rs = resource_server(a, "default").await;
        assert_eq!(actives(&all, "default", &rs, &[t["access_token"].as_str().unwrap()]).await, [true; 3]);
    })
    .await;
}
