use reqwest::Method;
use serde_json::json;

use super::Api;
use crate::harness::{assert_error, on_postgres};

/// Each cause of a refused admin token is a 401 `invalid_token` with its own
/// description, in the body and in the challenge (RFC 6750 §3).
#[tokio::test]
async fn each_refused_token_has_its_own_description() {
    let api = Api::start().await;
    let (record, revoked) = api.s.admin().create_admin_token(None).await.unwrap();
    api.s.admin().revoke_admin_token(&record.id_hex()).await.unwrap();
    let client = api.s.cc_client("default", "svc", "a").await;
    let access = api.s.token("default", &client, None).await;
    let unknown = {
        let (_, secret) = api.s.admin().create_admin_token(None).await.unwrap();
        let t = secret.expose().to_owned();
        let mut forged = t[..t.len() - 4].to_owned();
        forged.push_str(if t.ends_with("AAAA") { "BBBB" } else { "AAAA" });
        forged
    };
    let mut descriptions = Vec::new();
    for (header, has_error_code) in [
        (None, false),
        (Some("Basic YTpi".to_owned()), true),
        (Some(format!("Bearer {access}")), true),
        (Some("Bearer not-a-token".to_owned()), true),
        (Some(format!("Bearer {unknown}")), true),
        (Some(format!("Bearer {}", revoked.expose())), true),
    ] {
        let mut req = api.s.http.get(api.url("/realms"));
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let r = req.send().await.unwrap();
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert_eq!(challenge.contains(r#"error="invalid_token""#), has_error_code, "{header:?}: {challenge}");
        let body = assert_error(r, 401, "invalid_token").await;
        descriptions.push(body["error_description"].as_str().unwrap().to_owned());
    }
    let mut distinct = descriptions.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), descriptions.len(), "{descriptions:?}");
    assert!(descriptions[2].contains("not an admin token"), "{descriptions:?}");
    assert!(descriptions[4].contains("unknown"), "{descriptions:?}");
    assert!(descriptions[5].contains("revoked"), "{descriptions:?}");
}

/// A token scoped to one realm sees nothing of any other: every path under another
/// realm answers as if it did not exist; and it cannot list, create or delete realms.
async fn realm_scoped_tokens_see_one_realm(api: Api) {
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 201).await;
    let c = api.expect(Method::POST, "/realms/default/clients", Some(json!({"name": "svc"})), 201).await;
    let id = c["client_id"].as_str().unwrap();
    let acme = Api::token_for(&api.s, Some("acme")).await;
    let as_acme = |m: Method, p: String| {
        let api = &api;
        let acme = acme.clone();
        async move { api.call_as(Some(&acme), m, &p, None).await }
    };
    for (m, path) in [
        (Method::GET, "/realms/default".to_owned()),
        (Method::GET, "/realms/default/clients".to_owned()),
        (Method::GET, format!("/realms/default/clients/{id}")),
        (Method::DELETE, format!("/realms/default/clients/{id}")),
        (Method::GET, "/realms/default/users".to_owned()),
        (Method::GET, "/realms/default/grants".to_owned()),
        (Method::POST, "/realms/default/keys/rotate".to_owned()),
    ] {
        let r = as_acme(m.clone(), path.clone()).await;
        let body = assert_error(r, 404, "not_found").await;
        assert_eq!(body["error_description"], "realm 'default' does not exist", "{m} {path}");
    }
    // The same answer as for a realm that does not exist at all.
    let r = as_acme(Method::GET, "/realms/nowhere/clients".to_owned()).await;
    assert_error(r, 404, "not_found").await;
    for (m, path) in [(Method::GET, "/realms"), (Method::DELETE, "/realms/acme")] {
        let r = as_acme(m, path.to_owned()).await;
        assert_eq!(r.headers()["www-authenticate"], r#"Bearer realm="portcullis-admin", error="insufficient_scope""#);
        assert_error(r, 403, "insufficient_scope").await;
    }
    let r = api.call_as(Some(&acme), Method::POST, "/realms", Some(json!({"name": "mine"}))).await;
    assert_error(r, 403, "insufficient_scope").await;
    // Its own realm works, and the client in default is untouched.
    let r = as_acme(Method::GET, "/realms/acme/clients".to_owned()).await;
    assert_eq!(r.status(), 200);
    api.expect(Method::GET, &format!("/realms/default/clients/{id}"), None, 200).await;
}

#[tokio::test]
async fn a_realm_scoped_token_sees_only_its_realm() {
    realm_scoped_tokens_see_one_realm(Api::start().await).await;
}

#[tokio::test]
async fn a_realm_scoped_token_sees_only_its_realm_on_postgres() {
    on_postgres("admin_api_realm_scope", |s| async move { realm_scoped_tokens_see_one_realm(Api::on(s).await).await })
        .await;
}

#[tokio::test]
async fn a_revoked_admin_token_stops_at_once() {
    let api = Api::start().await;
    let (record, secret) = api.s.admin().create_admin_token(None).await.unwrap();
    let r = api.call_as(Some(secret.expose()), Method::GET, "/realms", None).await;
    assert_eq!(r.status(), 200);
    api.s.admin().revoke_admin_token(&record.id_hex()).await.unwrap();
    let r = api.call_as(Some(secret.expose()), Method::GET, "/realms", None).await;
    let body = assert_error(r, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "the admin token has been revoked");
}

#[tokio::test]
async fn the_openapi_document_needs_no_token_and_the_rest_does() {
    let api = Api::start().await;
    let r = api.s.http.get(api.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = api.s.http.get(api.url("/realms/default")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
