//! Metadata (RFC 8414), JWKS, key rotation and health.

use portcullis_core::model::{SigningAlg, TokenFormat};
use serde_json::Value;

use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn metadata_is_served_at_both_locations_and_names_every_endpoint() {
    let s = TestServer::start().await;
    let a: Value = s
        .http
        .get(s.url("default", "/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = s
        .http
        .get(format!("{}/.well-known/oauth-authorization-server/realms/default", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a, b);
    let issuer = s.issuer("default");
    assert_eq!(a["issuer"], issuer.as_str());
    for (field, path) in [
        ("token_endpoint", "/oauth/token"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(a[field], format!("{issuer}{path}"));
    }
    assert_eq!(
        a["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "password", "refresh_token"])
    );
    assert_eq!(a["authorization_endpoint"], format!("{issuer}/oauth/authorize"));
    assert_eq!(a["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(a["authorization_response_iss_parameter_supported"], true);
    assert_eq!(a["response_types_supported"], serde_json::json!(["code"]));
    // Public clients (PKCE) authenticate with none at the token endpoint only.
    assert!(a["token_endpoint_auth_methods_supported"].to_string().contains("none"));
    assert!(!a["introspection_endpoint_auth_methods_supported"].to_string().contains("none"));
}

#[tokio::test]
async fn unknown_realms_are_404_with_no_fallback() {
    let s = TestServer::start().await;
    for path in [
        "/realms/nope/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/realms/nope",
        "/realms/nope/jwks.json",
        "/realms/%27%20OR%201%3D1--/jwks.json",
        "/realms/DEFAULT/jwks.json",
    ] {
        let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
    }
    let r = s.post_form(&s.url("nope", "/oauth/token"), None, &[("grant_type", "client_credentials")]).await;
    assert_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn jwks_holds_public_keys_only() {
    let s = TestServer::start().await;
    for (i, alg) in SigningAlg::ALL.iter().enumerate() {
        let realm = format!("k{i}");
        s.realm(&realm, TokenFormat::Jwt, *alg).await;
        let jwks: Value = s.http.get(s.url(&realm, "/jwks.json")).send().await.unwrap().json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        if alg.is_symmetric() {
            assert!(keys.is_empty(), "{alg}: {jwks}");
        } else {
            assert_eq!(keys.len(), 1);
            assert!(keys[0]["kid"].is_string());
            assert_eq!(keys[0]["alg"], alg.as_str());
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(keys.iter().all(|k| k.get(private).is_none()), "{alg} leaks {private}");
        }
    }
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_until_they_expire() {
    let s = TestServer::start().await;
    s.realm("r", TokenFormat::Jwt, SigningAlg::Es256).await;
    s.realm("untouched", TokenFormat::Jwt, SigningAlg::Es256).await;
    let c = s.cc_client("r", "x", "a").await;
    let old = s.token("r", &c, None).await;
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    let other_before: Value = s.http.get(s.url("untouched", "/jwks.json")).send().await.unwrap().json().await.unwrap();

    let new_kid = s.admin().rotate_keys("r").await.unwrap();
    // Another instance sees the rotation within KEY_CACHE_TTL; here, at once.
    s.authority.forget_keys("r");
    let new = s.token("r", &c, None).await;
    assert_eq!(jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(), new_kid);
    let jwks: Value = s.http.get(s.url("r", "/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()));
    assert!(s.is_active("r", &c, &old).await);
    assert!(s.is_active("r", &c, &new).await);
    let other_after: Value = s.http.get(s.url("untouched", "/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(other_before, other_after);

    // After the old key's last token expired, the key is gone and so are its tokens.
    s.clock.advance(3600 + 60);
    s.authority.forget_keys("r");
    assert!(!s.is_active("r", &c, &old).await);
    let jwks: Value = s.http.get(s.url("r", "/jwks.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start().await;
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.http.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "sqlite");
}
