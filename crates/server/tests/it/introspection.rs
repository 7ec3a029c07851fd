//! Introspection (RFC 7662) and Spring's check_token.

use portcullis_core::admin::ClientSpec;
use portcullis_core::model::{SigningAlg, TokenFormat};
use serde_json::Value;

use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn inactive_tokens_answer_active_false_and_nothing_else() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let mut tampered = t.clone();
    tampered.replace_range(tampered.len() - 3.., "AAA");
    let jwt_like = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    for token in ["unknown", "pcat_0000", &tampered, jwt_like, &"x".repeat(100_000)[..60_000]] {
        let body = s.introspect("default", &c, token).await;
        assert_eq!(body, serde_json::json!({"active": false}), "{token}");
    }
}

#[tokio::test]
async fn expired_tokens_are_inactive() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    s.clock.advance(3599);
    assert!(s.is_active("default", &c, &t).await);
    s.clock.advance(1);
    assert!(!s.is_active("default", &c, &t).await);
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/introspect");
    assert_error(s.post_form(&url, None, &[("token", &t)]).await, 401, "invalid_client").await;
    assert_error(s.post_form(&url, None, &[("token", &t), ("client_id", &c.id)]).await, 401, "invalid_client").await;
    let mut wrong = c.clone();
    wrong.secret.push('x');
    assert_error(s.post_form(&url, Some(&wrong), &[("token", &t)]).await, 401, "invalid_client").await;
    assert_error(s.post_form(&url, Some(&c), &[]).await, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_client_sees_only_its_own_tokens_unless_it_is_a_resource_server() {
    let s = TestServer::start().await;
    let a = s.cc_client("default", "a", "x").await;
    let b = s.cc_client("default", "b", "x").await;
    let rs = s
        .client_with(
            "default",
            ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() },
        )
        .await;
    let t = s.token("default", &a, None).await;
    assert!(!s.is_active("default", &b, &t).await);
    assert!(s.is_active("default", &rs, &t).await);
}

#[tokio::test]
async fn tokens_are_invisible_from_another_realm() {
    let s = TestServer::start().await;
    s.realm("other", TokenFormat::Opaque, SigningAlg::Es256).await;
    s.realm("jwt-a", TokenFormat::Jwt, SigningAlg::Es256).await;
    let a = s.cc_client("default", "x", "a").await;
    let other = s
        .client_with("other", ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await;
    let t = s.token("default", &a, None).await;
    assert!(!s.is_active("other", &other, &t).await);
    let j = s.cc_client("jwt-a", "x", "a").await;
    let jt = s.token("jwt-a", &j, None).await;
    assert!(!s.is_active("other", &other, &jt).await);
    // Realm A's client cannot even authenticate at realm B.
    let r = s.post_form(&s.url("other", "/oauth/token"), Some(&a), &[("grant_type", "client_credentials")]).await;
    assert_error(r, 401, "invalid_client").await;
}

#[tokio::test]
async fn the_hint_is_only_a_hint() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    for hint in ["refresh_token", "access_token", "nonsense"] {
        let r = s
            .post_form(&s.url("default", "/oauth/introspect"), Some(&c), &[("token", &t), ("token_type_hint", hint)])
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
    }
}

#[tokio::test]
async fn forged_jwts_are_inactive() {
    let s = TestServer::start().await;
    s.realm("j", TokenFormat::Jwt, SigningAlg::Es256).await;
    let c = s.cc_client("j", "x", "a").await;
    let t = s.token("j", &c, None).await;
    let parts: Vec<&str> = t.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    // alg none, in several spellings, with and without a signature.
    for alg in ["none", "None", "nOnE"] {
        let mut h = header.clone();
        h["alg"] = alg.into();
        let forged = format!("{}.{}.", b64.encode(h.to_string()), parts[1]);
        assert!(!s.is_active("j", &c, &forged).await);
    }
    // A widened scope under the original signature.
    claims["scope"] = "a admin".into();
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    assert!(!s.is_active("j", &c, &forged).await);
    // HS256 signed with the realm's public key.
    let jwks: Value = s.http.get(s.url("j", "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    h.kid = header["kid"].as_str().map(String::from);
    let original: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    let forged = jsonwebtoken::encode(&h, &original, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
    assert!(!s.is_active("j", &c, &forged).await);
    assert!(s.is_active("j", &c, &t).await);
}

#[tokio::test]
async fn check_token_answers_like_spring() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a b").await;
    let t = s.token("default", &c, None).await;
    let url = s.url("default", "/oauth/check_token");
    let r = s.post_form(&url, Some(&c), &[("token", &t)]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["client_id"], c.id.as_str());
    assert_eq!(body["scope"], serde_json::json!(["a", "b"]));
    assert!(body["exp"].is_i64());
    assert!(body["authorities"].is_array());

    let body = assert_error(s.post_form(&url, Some(&c), &[("token", "nope")]).await, 400, "invalid_token").await;
    assert_eq!(body["error_description"], "Token was not recognised");
    s.clock.advance(4000);
    let body = assert_error(s.post_form(&url, Some(&c), &[("token", &t)]).await, 400, "invalid_token").await;
    assert_eq!(body["error_description"], "Token has expired");
    assert_error(s.post_form(&url, None, &[("token", &t)]).await, 401, "invalid_client").await;
}
