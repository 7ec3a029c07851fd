use reqwest::Method;
use serde_json::{Value, json};

use super::Api;
use crate::harness::on_postgres;

async fn realm_crud(api: Api) {
    let r = api.expect(Method::POST, "/realms", Some(json!({"name": "acme", "access_ttl": 600})), 201).await;
    assert_eq!((r["name"].as_str(), r["access_ttl"].as_i64()), (Some("acme"), Some(600)));
    assert_eq!(api.expect(Method::GET, "/realms/acme", None, 200).await["access_ttl"], 600);
    let r = api.expect(Method::PATCH, "/realms/acme", Some(json!({"refresh_ttl": null, "code_ttl": 30})), 200).await;
    assert_eq!((r["refresh_ttl"].clone(), r["code_ttl"].clone()), (Value::Null, json!(30)));
    let names: Vec<Value> = api.expect(Method::GET, "/realms", None, 200).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [json!("acme"), json!("default")]);
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 409).await;
    api.expect(Method::DELETE, "/realms/acme", None, 204).await;
    api.expect(Method::GET, "/realms/acme", None, 404).await;
    api.expect(Method::DELETE, "/realms/default", None, 400).await;
}

#[tokio::test]
async fn realms_are_created_read_updated_and_deleted() {
    realm_crud(Api::start().await).await;
}

#[tokio::test]
async fn realms_crud_on_postgres() {
    on_postgres("admin_api_realm_crud", |s| async move { realm_crud(Api::on(s).await).await }).await;
}

async fn keys_rotate(api: Api) {
    let before = api.expect(Method::GET, "/realms/default/keys", None, 200).await;
    assert_eq!(before["items"].as_array().unwrap().len(), 1);
    let rotated = api.expect(Method::POST, "/realms/default/keys/rotate", None, 200).await;
    let after = api.expect(Method::GET, "/realms/default/keys", None, 200).await;
    let kids: Vec<&str> = after["items"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&rotated["kid"].as_str().unwrap()));
    assert!(!after.to_string().contains("PRIVATE"), "a private key is shown: {after}");
}

#[tokio::test]
async fn keys_are_listed_and_rotated() {
    keys_rotate(Api::start().await).await;
}

async fn client_crud(api: Api) {
    let body = json!({"name": "svc", "grant_types": ["client_credentials"], "scopes": ["a", "b"]});
    let c = api.expect(Method::POST, "/realms/default/clients", Some(body), 201).await;
    let id = c["client_id"].as_str().unwrap().to_owned();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    // The secret works...
    let client = crate::harness::TestClient { id: id.clone(), secret: secret.clone() };
    api.s.token("default", &client, Some("a")).await;
    // ...and is never shown again.
    let got = api.expect(Method::GET, &format!("/realms/default/clients/{id}"), None, 200).await;
    let listed = api.expect(Method::GET, "/realms/default/clients", None, 200).await;
    for shown in [&got, &listed] {
        assert!(!shown.to_string().contains(&secret) && shown.get("client_secret").is_none(), "{shown}");
    }
    assert_eq!(got["scopes"], json!(["a", "b"]));
    let patched =
        api.expect(Method::PATCH, &format!("/realms/default/clients/{id}"), Some(json!({"disabled": true})), 200).await;
    assert_eq!(patched["disabled"], true);
    assert_eq!(patched["name"], "svc");
    // No body: every field of the action is optional.
    let rotated = api.expect(Method::POST, &format!("/realms/default/clients/{id}/secret"), None, 200).await;
    assert_ne!(rotated["client_secret"], json!(secret));
    api.expect(Method::DELETE, &format!("/realms/default/clients/{id}"), None, 204).await;
    api.expect(Method::GET, &format!("/realms/default/clients/{id}"), None, 404).await;
    let public = json!({"name": "spa", "public": true, "redirect_uris": ["https://app.example/cb"]});
    let p = api.expect(Method::POST, "/realms/default/clients", Some(public), 201).await;
    assert_eq!((p["public"].clone(), p["client_secret"].clone()), (json!(true), Value::Null));
}

#[tokio::test]
async fn clients_are_created_read_updated_and_deleted_and_secrets_shown_once() {
    client_crud(Api::start().await).await;
}

#[tokio::test]
async fn clients_crud_on_postgres() {
    on_postgres("admin_api_client_crud", |s| async move { client_crud(Api::on(s).await).await }).await;
}

async fn user_crud(api: Api) {
    let body = json!({"username": "alice", "password": "correct horse", "roles": ["admin"]});
    let u = api.expect(Method::POST, "/realms/default/users", Some(body), 201).await;
    let id = u["id"].as_str().unwrap().to_owned();
    assert_eq!(u["has_password"], true);
    assert!(!u.to_string().contains("correct horse") && !u.to_string().contains("argon2"), "{u}");
    let by_name = api.expect(Method::GET, "/realms/default/users/alice", None, 200).await;
    assert_eq!(by_name["id"], json!(id));
    let u =
        api.expect(Method::PATCH, &format!("/realms/default/users/{id}"), Some(json!({"teams": ["red"]})), 200).await;
    assert_eq!((u["teams"].clone(), u["roles"].clone()), (json!(["red"]), json!(["admin"])));
    let path = format!("/realms/default/users/{id}/password");
    api.expect(Method::POST, &path, Some(json!({"password": "another horse"})), 204).await;
    let e = api.expect(Method::POST, &path, Some(json!({"password": "short"})), 400).await;
    assert!(e["fields"]["password"].is_string(), "{e}");
    let unlocked = api.expect(Method::POST, &format!("/realms/default/users/{id}/unlock"), None, 200).await;
    assert_eq!(unlocked["cleared_counters"], 0);
    api.expect(Method::DELETE, &format!("/realms/default/users/{id}"), None, 204).await;
    api.expect(Method::GET, &format!("/realms/default/users/{id}"), None, 404).await;
}

#[tokio::test]
async fn users_are_created_read_updated_and_deleted_with_actions() {
    user_crud(Api::start().await).await;
}

#[tokio::test]
async fn users_crud_on_postgres() {
    on_postgres("admin_api_user_crud", |s| async move { user_crud(Api::on(s).await).await }).await;
}

/// A password grant makes a grant; the API lists, reads and revokes it, and its
/// tokens stop working.
async fn grants_list_get_revoke(api: Api) {
    let spec = portcullis_core::admin::ClientSpec {
        name: Some("app".into()),
        grant_types: Some(vec![portcullis_core::model::GrantType::Password]),
        ..Default::default()
    };
    let client = api.s.client_with("default", spec).await;
    api.expect(Method::POST, "/realms/default/users", Some(json!({"username": "bob", "password": "pass word 1"})), 201)
        .await;
    let r = api
        .s
        .post_form(
            &api.s.url("default", "/oauth/token"),
            Some(&client),
            &[("grant_type", "password"), ("username", "bob"), ("password", "pass word 1")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let access = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let grants = api.expect(Method::GET, "/realms/default/grants?user=bob", None, 200).await;
    let id = grants["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(grants["items"][0]["username"], "bob");
    api.expect(Method::GET, &format!("/realms/default/grants/{id}"), None, 200).await;
    api.expect(Method::POST, &format!("/realms/default/grants/{id}/revoke"), None, 204).await;
    let g = api.expect(Method::GET, &format!("/realms/default/grants/{id}"), None, 200).await;
    assert!(g["revoked_at"].is_i64(), "{g}");
    api.expect(Method::POST, &format!("/realms/default/grants/{id}/revoke"), None, 404).await;
    assert!(!api.s.is_active("default", &client, &access).await);
    // Another realm's grant is not found under this one.
    api.expect(Method::POST, "/realms", Some(json!({"name": "other"})), 201).await;
    api.expect(Method::GET, &format!("/realms/other/grants/{id}"), None, 404).await;
}

#[tokio::test]
async fn grants_are_listed_read_and_revoked() {
    grants_list_get_revoke(Api::start().await).await;
}

#[tokio::test]
async fn grants_on_postgres() {
    on_postgres("admin_api_grants", |s| async move { grants_list_get_revoke(Api::on(s).await).await }).await;
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let api = Api::start().await;
    for (path, body, field) in [
        ("/realms", json!({"name": "Bad Name"}), "name"),
        ("/realms", json!({"name": "ok", "access_ttl": 0}), "access_ttl"),
        ("/realms", json!({"name": "ok", "access_ttl": "soon"}), "access_ttl"),
        ("/realms", json!({"name": "ok", "signing_alg": "none"}), "signing_alg"),
        ("/realms", json!({"name": "ok", "colour": "red"}), "colour"),
        ("/realms", json!({}), "name"),
        ("/realms/default/clients", json!({"name": ""}), "name"),
        (
            "/realms/default/clients",
            json!({"name": "x", "grant_types": ["client_credentials", "magic"]}),
            "grant_types[1]",
        ),
        (
            "/realms/default/clients",
            json!({"name": "x", "grant_types": ["authorization_code"], "redirect_uris": ["javascript:alert(1)"]}),
            "redirect_uris",
        ),
        ("/realms/default/clients", json!({"name": "x", "scopes": ["a"], "default_scopes": ["b"]}), "default_scopes"),
        ("/realms/default/users", json!({"username": "u", "roles": ["a", 7]}), "roles[1]"),
        ("/realms/default/users", json!({"password": "long enough"}), "username"),
        ("/realms/default/users", json!({"username": "u", "kind": "robot"}), "kind"),
    ] {
        let e = api.expect(Method::POST, path, Some(body.clone()), 400).await;
        assert_eq!(e["error"], "invalid_request", "{body}: {e}");
        assert!(e["fields"][field].is_string(), "{path} {body}: expected field {field}: {e}");
    }
    let e = api.expect(Method::GET, "/realms?limit=0", None, 400).await;
    assert!(e["fields"]["limit"].is_string(), "{e}");
    let e = api.expect(Method::GET, "/realms?colour=red", None, 400).await;
    assert!(e["fields"]["colour"].is_string(), "{e}");
    // Not JSON at all: a 400 about the body, never a framework rejection.
    let r = api.s.http.post(api.url("/realms")).bearer_auth(&api.token).body("{").send().await.unwrap();
    crate::harness::assert_error(r, 400, "invalid_request").await;
    let r = api
        .s
        .http
        .post(api.url("/realms"))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    crate::harness::assert_error(r, 400, "invalid_request").await;
    let e = api.expect(Method::POST, "/realms", None, 400).await;
    assert!(e["fields"]["name"].is_string(), "no body at all: {e}");
    let r = api.call(Method::PUT, "/realms", None).await;
    assert_eq!(r.status(), 405);
    // Nothing was written by any of it.
    assert_eq!(api.expect(Method::GET, "/realms", None, 200).await["items"].as_array().unwrap().len(), 1);
}
