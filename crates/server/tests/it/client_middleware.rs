//! The client library's resource-server layer in front of a real axum handler, with
//! tokens from the real server: what passes, and the RFC 6750 answer for each refusal.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use portcullis_client::ClientConfig;
use portcullis_client::resource::{RequireToken, VerifiedToken, Verifier, protected_resource_metadata};
use portcullis_core::admin::{ClientSpec, UserSpec};
use portcullis_core::model::{GrantType, SigningAlg, TokenFormat};
use serde_json::Value;

use crate::harness::{TestClient, TestServer};

/// An API on a loopback port whose `/orders` needs `layer`; answers the verified subject.
async fn api(layer: RequireToken) -> String {
    let app = Router::new()
        .route("/orders", get(|VerifiedToken(claims): VerifiedToken| async move { claims.sub.unwrap_or_default() }))
        .layer(layer)
        .merge(protected_resource_metadata("http://api.example", &["http://as.example/realms/acme"], &["orders.read"]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn call(base: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/orders"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r.status().as_u16(), challenge, r.text().await.unwrap())
}

/// Realm `acme` issuing `format` tokens, a client for them and a resource server's
/// client that may introspect them.
async fn setup(s: &TestServer, format: TokenFormat) -> (TestClient, Verifier) {
    s.realm("acme", format, SigningAlg::Es256).await;
    let svc = ClientSpec {
        name: Some("svc".into()),
        grant_types: Some(vec![GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken]),
        scopes: Some(vec!["orders.read".into(), "orders.write".into()]),
        ..Default::default()
    };
    let c = s.client_with("acme", svc).await;
    let rs = ClientSpec {
        name: Some("orders-api".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        resource_server: Some(true),
        ..Default::default()
    };
    let rs = s.client_with("acme", rs).await;
    let verifier =
        Verifier::discover(&s.issuer("acme"), ClientConfig::new(&rs.id).with_secret(&rs.secret)).await.unwrap();
    (c, verifier)
}

fn assert_invalid_token(got: &(u16, String, String), mentions: &str) {
    assert_eq!(got.0, 401, "{got:?}");
    assert!(got.1.starts_with("Bearer error=\"invalid_token\""), "{got:?}");
    assert!(got.1.contains(mentions), "{got:?}");
}

#[tokio::test]
async fn jwts_are_checked_locally_and_every_refusal_answers_rfc_6750() {
    let s = TestServer::start().await;
    let (c, verifier) = setup(&s, TokenFormat::Jwt).await;
    let base = api(RequireToken::new(verifier.clone().with_jwks_refetch_interval(Duration::ZERO))
        .scope("orders.read")
        .kind("access"))
    .await;
    let token = s.token("acme", &c, Some("orders.read")).await;
    assert_eq!(call(&base, Some(&token)).await, (200, String::new(), c.id.clone()));

    // No token: 401 with a bare challenge (RFC 6750 §3.1).
    let none = call(&base, None).await;
    assert_eq!((none.0, none.1.as_str()), (401, "Bearer"));
    // Missing scope: 403 naming it.
    let narrow = s.token("acme", &c, Some("orders.write")).await;
    let got = call(&base, Some(&narrow)).await;
    assert_eq!(got.0, 403);
    assert!(got.1.contains("error=\"insufficient_scope\"") && got.1.contains("scope=\"orders.read\""), "{got:?}");
    // Malformed, alg none, a forged signature.
    assert_invalid_token(&call(&base, Some("abc.def.ghi")).await, "malformed");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let none_header = b64.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    assert_invalid_token(&call(&base, Some(&format!("{none_header}.{}.", parts[1]))).await, "malformed");
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = "orders.read orders.write admin".into();
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    assert_invalid_token(&call(&base, Some(&forged)).await, "signature");
    // Expired: minted by a server whose clock is an hour behind.
    s.clock.advance(-7200);
    let old = s.token("acme", &c, Some("orders.read")).await;
    s.clock.advance(7200);
    assert_invalid_token(&call(&base, Some(&old)).await, "expired");
    // Not valid yet: minted by a server whose clock is two hours ahead.
    s.clock.advance(7200);
    let early = s.token("acme", &c, Some("orders.read")).await;
    s.clock.advance(-7200);
    assert_invalid_token(&call(&base, Some(&early)).await, "not valid yet");
    // Another audience.
    let elsewhere = api(RequireToken::new(verifier.clone().with_audience("https://other.example"))).await;
    assert_invalid_token(&call(&elsewhere, Some(&token)).await, "audience");
    // A key rotation at the server is picked up without a restart.
    s.admin().rotate_keys("acme").await.unwrap();
    s.authority.forget_keys("acme");
    let rotated = s.token("acme", &c, Some("orders.read")).await;
    assert_ne!(rotated.split('.').next(), token.split('.').next(), "a new kid");
    assert_eq!(call(&base, Some(&rotated)).await.0, 200);

    let metadata: Value =
        reqwest::get(format!("{base}/.well-known/oauth-protected-resource")).await.unwrap().json().await.unwrap();
    assert_eq!(metadata["authorization_servers"][0], "http://as.example/realms/acme");
}

#[tokio::test]
async fn opaque_tokens_are_introspected_with_kind_and_revocation_applied() {
    let s = TestServer::start().await;
    let (c, verifier) = setup(&s, TokenFormat::Opaque).await;
    let uncached = verifier.clone().with_introspection_cache(Duration::ZERO);
    let base = api(RequireToken::new(uncached).scope("orders.read").kind("access")).await;
    let token = s.token("acme", &c, Some("orders.read")).await;
    assert_eq!(call(&base, Some(&token)).await.0, 200);
    assert_invalid_token(&call(&base, Some("pcat_unknown")).await, "not active");

    // A refresh token is not an access token.
    let spec = UserSpec { username: Some("alice".into()), ..Default::default() };
    s.admin().create_user("acme", &spec, Some("pw-alice-1")).await.unwrap();
    let form =
        [("grant_type", "password"), ("username", "alice"), ("password", "pw-alice-1"), ("scope", "orders.read")];
    let r: Value = s.post_form(&s.url("acme", "/oauth/token"), Some(&c), &form).await.json().await.unwrap();
    let refresh = r["refresh_token"].as_str().unwrap();
    assert_invalid_token(&call(&base, Some(refresh)).await, "kind");
    assert_eq!(call(&base, Some(r["access_token"].as_str().unwrap())).await.0, 200);

    // Revoked: refused on the next request when answers are not cached.
    let r = s.post_form(&s.url("acme", "/oauth/revoke"), Some(&c), &[("token", &token)]).await;
    assert_eq!(r.status(), 200);
    assert_invalid_token(&call(&base, Some(&token)).await, "has been revoked");

    // The server's answer is checked against this clock: expired, or not valid yet,
    // when the server's clock is behind or ahead (the server itself says active).
    s.clock.advance(-7200);
    let old = s.token("acme", &c, Some("orders.read")).await;
    assert_invalid_token(&call(&base, Some(&old)).await, "has expired");
    s.clock.advance(14400);
    let early = s.token("acme", &c, Some("orders.read")).await;
    assert_invalid_token(&call(&base, Some(&early)).await, "not valid yet");
}

/// An organization's kinds (issue 12): customer tokens where API keys are required and
/// the reverse, another app's token, a missing permission, each with its own description.
#[tokio::test]
async fn customer_tokens_and_api_keys_are_kept_apart_with_distinct_descriptions() {
    use crate::organizations::{REALM, customer_tokens, key, org};
    let s = TestServer::start().await;
    let o = org(&s, TokenFormat::Opaque).await;
    let verifier = Verifier::discover(&s.issuer(REALM), ClientConfig::new(&o.rs.id).with_secret(&o.rs.secret))
        .await
        .unwrap()
        .with_introspection_cache(Duration::ZERO);
    let customer = customer_tokens(&s, &o.app).await["access_token"].as_str().unwrap().to_owned();
    let api_key = o.app.secret.clone();

    let for_apps = api(RequireToken::new(verifier.clone()).kind("api")).await;
    assert_eq!(call(&for_apps, Some(&api_key)).await.0, 200);
    assert_invalid_token(&call(&for_apps, Some(&customer)).await, "a customer token is not accepted here");
    let for_customers = api(RequireToken::new(verifier.clone()).kind("customer").app(&o.app.id)).await;
    assert_eq!(call(&for_customers, Some(&customer)).await, (200, String::new(), o.customer_id.clone()));
    assert_invalid_token(&call(&for_customers, Some(&api_key)).await, "an API key is not accepted here");

    // Another app's customers are refused by this app's API.
    s.admin().create_app(REALM, "backoffice").await.unwrap();
    let other = key(&s, "backoffice", &["orders.read"], false).await;
    let other_customer = customer_tokens(&s, &other).await["access_token"].as_str().unwrap().to_owned();
    assert_invalid_token(&call(&for_customers, Some(&other_customer)).await, "belongs to another app");

    // A permission the token lacks: 403 insufficient_scope naming it.
    let needs_admin = api(RequireToken::new(verifier.clone()).kind("customer").permission("admin")).await;
    let got = call(&needs_admin, Some(&customer)).await;
    assert_eq!(got.0, 403, "{got:?}");
    assert!(got.1.starts_with("Bearer error=\"insufficient_scope\""), "{got:?}");
    assert!(got.1.contains("lacks the permission 'admin'"), "{got:?}");
    let reads = api(RequireToken::new(verifier).kind("customer").permission("orders.read")).await;
    assert_eq!(call(&reads, Some(&customer)).await.0, 200);
}

/// `.subject(..)`: only the named subject's tokens pass; anyone else's, a client's own
/// token included, is 401 `invalid_token` with a description of its own that names
/// neither subject, whatever scope the token carries. JWTs and opaque tokens alike.
#[tokio::test]
async fn a_token_of_another_subject_is_invalid_token_naming_neither() {
    for format in [TokenFormat::Jwt, TokenFormat::Opaque] {
        let s = TestServer::start().await;
        let (c, verifier) = setup(&s, format).await;
        let mut ids = Vec::new();
        for name in ["alice", "bob"] {
            let spec = UserSpec { username: Some(name.into()), ..Default::default() };
            ids.push(s.admin().create_user("acme", &spec, Some("pw-users-1")).await.unwrap().id);
        }
        let user_token = |name: &'static str, scope: &'static str| {
            let (s, c) = (&s, &c);
            async move {
                let form =
                    [("grant_type", "password"), ("username", name), ("password", "pw-users-1"), ("scope", scope)];
                let r: Value = s.post_form(&s.url("acme", "/oauth/token"), Some(c), &form).await.json().await.unwrap();
                r["access_token"].as_str().unwrap().to_owned()
            }
        };
        let alices = api(RequireToken::new(verifier.clone()).subject(&ids[0]).scope("orders.read")).await;
        let alice = user_token("alice", "orders.read").await;
        assert_eq!(call(&alices, Some(&alice)).await, (200, String::new(), ids[0].clone()), "{format:?}");

        let bob = user_token("bob", "orders.read").await;
        let bob_narrow = user_token("bob", "orders.write").await;
        let client_own = s.token("acme", &c, Some("orders.read")).await;
        for token in [&bob, &bob_narrow, &client_own] {
            let got = call(&alices, Some(token)).await;
            assert_invalid_token(&got, "issued for another subject than the one this resource serves");
            let body: Value = serde_json::from_str(&got.2).unwrap();
            assert_eq!(body["error"], "invalid_token", "{got:?}");
            for id in [&ids[0], &ids[1], &c.id] {
                assert!(!got.1.contains(id.as_str()) && !got.2.contains(id.as_str()), "{format:?}: {got:?}");
            }
        }
        // The last call wins; the client's own subject for client credentials.
        let clients = api(RequireToken::new(verifier).subject(&ids[0]).subject(&c.id)).await;
        assert_eq!(call(&clients, Some(&client_own)).await.0, 200, "{format:?}");
        assert_eq!(call(&clients, Some(&alice)).await.0, 401, "{format:?}");
    }
}

#[tokio::test]
async fn the_extractor_refuses_without_the_layer() {
    let app = Router::new().route("/", get(|VerifiedToken(_): VerifiedToken| async { "secret" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = reqwest::Client::new().get(&base).bearer_auth("anything").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// RFC 6750 §2.2's form body works only when enabled; the query string never does.
#[tokio::test]
async fn the_form_body_carries_a_token_only_when_enabled_and_the_query_never() {
    let s = TestServer::start().await;
    let (c, verifier) = setup(&s, TokenFormat::Opaque).await;
    let token = s.token("acme", &c, Some("orders.read")).await;
    let serve = |layer: RequireToken| async move {
        let app = Router::new()
            .route(
                "/orders",
                axum::routing::post(|VerifiedToken(claims): VerifiedToken, body: String| async move {
                    format!("{} {body}", claims.sub.unwrap_or_default())
                }),
            )
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    };
    let http = reqwest::Client::new();
    let form = [("access_token", token.as_str()), ("item", "42")];
    let off = serve(RequireToken::new(verifier.clone())).await;
    assert_eq!(http.post(format!("{off}/orders")).form(&form).send().await.unwrap().status(), 401);
    let on = serve(RequireToken::new(verifier).allow_form_body()).await;
    let r = http.post(format!("{on}/orders")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().ends_with("item=42"), "the handler still gets the body");
    let r = http.post(format!("{on}/orders?access_token={token}")).body("").send().await.unwrap();
    assert_eq!(r.status(), 401, "never from the query string");
}
