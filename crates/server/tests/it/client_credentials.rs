//! The client credentials grant (RFC 6749 §4.4) and client authentication (§2.3).

use portcullis_core::admin::ClientSpec;
use portcullis_core::client_auth::basic_header_value;
use portcullis_core::model::{AuthMethod, GrantType, SigningAlg, TokenFormat};
use serde_json::Value;

use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn client_credentials_issues_an_opaque_token_with_the_requested_scope() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "billing", "invoices.read invoices.write").await;
    let r = s
        .post_form(
            &s.url("default", "/oauth/token"),
            Some(&c),
            &[("grant_type", "client_credentials"), ("scope", "invoices.read")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "invoices.read");
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3: no refresh token");
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("pcat_"));
    let info = s.introspect("default", &c, token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "invoices.read");
    assert_eq!(info["client_id"], c.id.as_str());
    assert_eq!(info["kind"], "access");
}

#[tokio::test]
async fn no_requested_scope_grants_the_default_scopes() {
    let s = TestServer::start().await;
    let c = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("x".into()),
                scopes: Some(vec!["a".into(), "b".into()]),
                default_scopes: Some(vec!["b".into()]),
                ..Default::default()
            },
        )
        .await;
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["scope"], "b");
}

#[tokio::test]
async fn scope_beyond_the_registered_set_is_invalid_scope_and_issues_nothing() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    for scope in ["a b", "b", "a\"", &"a ".repeat(3000)] {
        let r = s
            .post_form(
                &s.url("default", "/oauth/token"),
                Some(&c),
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_error(r, 400, "invalid_scope").await;
    }
}

#[tokio::test]
async fn client_secret_post_works_when_registered_and_is_refused_otherwise() {
    let s = TestServer::start().await;
    let post = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("post".into()),
                auth_method: Some(AuthMethod::ClientSecretPost),
                scopes: Some(vec!["a".into()]),
                ..Default::default()
            },
        )
        .await;
    let url = s.url("default", "/oauth/token");
    let form = [("grant_type", "client_credentials"), ("client_id", &post.id), ("client_secret", &post.secret)];
    assert_eq!(s.post_form(&url, None, &form).await.status(), 200);
    // The same client through Basic: not its registered method.
    assert_error(s.post_form(&url, Some(&post), &[("grant_type", "client_credentials")]).await, 401, "invalid_client")
        .await;
    // A Basic client through the body.
    let basic = s.cc_client("default", "basic", "a").await;
    let form = [("grant_type", "client_credentials"), ("client_id", &basic.id), ("client_secret", &basic.secret)];
    assert_error(s.post_form(&url, None, &form).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_get_byte_identical_answers() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    let mut wrong = c.clone();
    wrong.secret = "pcs_wrong".into();
    let unknown = crate::harness::TestClient { id: "no-such-client".into(), secret: "pcs_wrong".into() };
    let a = s.post_form(&url, Some(&wrong), &[("grant_type", "client_credentials")]).await;
    assert!(a.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let b = s.post_form(&url, Some(&unknown), &[("grant_type", "client_credentials")]).await;
    let (sa, sb) = (a.status(), b.status());
    let (ba, bb) = (a.bytes().await.unwrap(), b.bytes().await.unwrap());
    assert_eq!((sa.as_u16(), &ba), (sb.as_u16(), &bb));
    assert_eq!(sa, 401);
}

#[tokio::test]
async fn a_secret_with_reserved_characters_is_form_decoded_in_basic() {
    // RFC 6749 §2.3.1: id and secret are form-encoded before Base64. Our secrets never
    // hold such characters, so exercise the decoding with an id that does.
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let header = basic_header_value(&c.id, &c.secret);
    let r = s
        .http
        .post(s.url("default", "/oauth/token"))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn grant_type_missing_unknown_or_not_allowed() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    assert_error(s.post_form(&url, Some(&c), &[("scope", "a")]).await, 400, "invalid_request").await;
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", "foo")]).await, 400, "unsupported_grant_type").await;
    let device = "urn:ietf:params:oauth:grant-type:device_code";
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", device)]).await, 400, "unsupported_grant_type").await;
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", "password")]).await, 400, "unauthorized_client").await;
    let no_cc = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("code-only".into()),
                grant_types: Some(vec![GrantType::AuthorizationCode]),
                redirect_uris: Some(vec!["https://app.example/cb".into()]),
                ..Default::default()
            },
        )
        .await;
    assert_error(
        s.post_form(&url, Some(&no_cc), &[("grant_type", "client_credentials")]).await,
        400,
        "unauthorized_client",
    )
    .await;
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_refused() {
    let s = TestServer::start().await;
    let a = s.cc_client("default", "a", "x").await;
    let b = s.cc_client("default", "b", "x y").await;
    let url = s.url("default", "/oauth/token");
    let r = s.post_form(&url, Some(&a), &[("grant_type", "client_credentials"), ("client_secret", &a.secret)]).await;
    assert_error(r, 400, "invalid_request").await;
    let r = s.post_form(&url, Some(&a), &[("grant_type", "client_credentials"), ("client_id", &b.id)]).await;
    assert_error(r, 400, "invalid_request").await;
}

#[tokio::test]
async fn public_clients_cannot_use_client_credentials() {
    let s = TestServer::start().await;
    let p = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("spa".into()),
                public: true,
                grant_types: Some(vec![GrantType::AuthorizationCode]),
                redirect_uris: Some(vec!["https://app.example/cb".into()]),
                ..Default::default()
            },
        )
        .await;
    let url = s.url("default", "/oauth/token");
    let r = s.post_form(&url, None, &[("grant_type", "client_credentials"), ("client_id", &p.id)]).await;
    assert_error(r, 400, "unauthorized_client").await;
    // A public client sending a secret fails authentication.
    let r = s
        .post_form(&url, None, &[("grant_type", "client_credentials"), ("client_id", &p.id), ("client_secret", "x")])
        .await;
    assert_error(r, 401, "invalid_client").await;
}

#[tokio::test]
async fn disabled_deleted_and_rotated_clients_lose_access_and_their_tokens() {
    let s = TestServer::start().await;
    let rs = s
        .client_with(
            "default",
            ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() },
        )
        .await;
    let url = s.url("default", "/oauth/token");

    let c = s.cc_client("default", "disabled", "a").await;
    let t = s.token("default", &c, None).await;
    s.admin()
        .update_client("default", &c.id, &ClientSpec { disabled: Some(true), ..Default::default() })
        .await
        .unwrap();
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", "client_credentials")]).await, 401, "invalid_client")
        .await;
    assert!(!s.is_active("default", &rs, &t).await);

    let c = s.cc_client("default", "deleted", "a").await;
    let t = s.token("default", &c, None).await;
    s.admin().delete_client("default", &c.id).await.unwrap();
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", "client_credentials")]).await, 401, "invalid_client")
        .await;
    assert!(!s.is_active("default", &rs, &t).await);

    let mut c = s.cc_client("default", "rotated", "a").await;
    let t = s.token("default", &c, None).await;
    let (_, new_secret) = s.admin().rotate_client_secret("default", &c.id, false).await.unwrap();
    assert_error(s.post_form(&url, Some(&c), &[("grant_type", "client_credentials")]).await, 401, "invalid_client")
        .await;
    assert!(!s.is_active("default", &rs, &t).await);
    c.secret = new_secret.expose().to_owned();
    let fresh = s.token("default", &c, None).await;
    assert!(s.is_active("default", &rs, &fresh).await);
}

#[tokio::test]
async fn per_client_lifetime_overrides_the_realm() {
    let s = TestServer::start().await;
    let c = s
        .client_with("default", ClientSpec { name: Some("short".into()), access_ttl: Some(60), ..Default::default() })
        .await;
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["expires_in"], 60);
}

#[tokio::test]
async fn jwt_realms_issue_rfc9068_tokens_for_every_algorithm() {
    let s = TestServer::start().await;
    for (i, alg) in SigningAlg::ALL.iter().enumerate() {
        let realm = format!("jwt{i}");
        s.realm(&realm, TokenFormat::Jwt, *alg).await;
        let c = s.cc_client(&realm, "svc", "a b").await;
        let token = s.token(&realm, &c, Some("a")).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(format!("{:?}", header.alg).to_uppercase(), alg.as_str().to_uppercase());
        assert!(header.kid.is_some());
        let info = s.introspect(&realm, &c, &token).await;
        assert_eq!(info["active"], true, "{alg}");
        assert_eq!(info["iss"], s.issuer(&realm));
        assert_eq!(info["scope"], "a");
        // The payload holds the RFC 9068 claims and no secret.
        let payload = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        for claim in ["iss", "sub", "aud", "client_id", "exp", "iat", "jti", "scope"] {
            assert!(claims.get(claim).is_some(), "{alg}: missing {claim}");
        }
        assert_eq!(claims["client_id"], c.id.as_str());
    }
}
