//! The organization model over the admin API: apps, API keys, permissions, roles and
//! teams. A key is shown once and works; validation names the field; another realm's
//! token sees none of it; each change is audited.

use reqwest::Method;
use serde_json::{Value, json};

use super::Api;
use super::audit::admin_changes;
use crate::harness::{TestClient, TestServer, assert_error, on_postgres};

const PASSWORD: &str = "correct horse battery";

fn strings(v: &Value, key: &str) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i[key].as_str().unwrap().to_owned()).collect()
}

async fn login(s: &TestServer, app: &TestClient, user: &str) -> reqwest::Response {
    let form = [("grant_type", "password"), ("username", user), ("password", PASSWORD)];
    s.post_form(&s.url("default", "/oauth/token"), Some(app), &form).await
}

async fn org_crud(api: Api) {
    let d = "/realms/default";
    let read = api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "orders.read"})), 201).await;
    let write = api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "orders.write"})), 201).await;
    assert_ne!(read["bit"], write["bit"]);
    assert!(read["bit"].is_u64(), "{read}");
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "orders.read"})), 409).await;
    let perms = api.expect(Method::GET, &format!("{d}/permissions"), None, 200).await;
    assert_eq!(strings(&perms, "name"), ["orders.read", "orders.write"]);

    let role = json!({"permissions": ["orders.write", "orders.read", "orders.read"]});
    let r = api.expect(Method::PUT, &format!("{d}/roles/buyer"), Some(role), 200).await;
    assert_eq!(r, json!({"role": "buyer", "permissions": ["orders.write", "orders.read"]}));
    let stored = json!({"role": "buyer", "permissions": ["orders.read", "orders.write"]});
    let roles = api.expect(Method::GET, &format!("{d}/roles"), None, 200).await;
    assert_eq!(roles["items"][0]["role"], "buyer");
    assert_eq!(api.expect(Method::GET, &format!("{d}/roles/buyer"), None, 200).await, stored);
    let e = api.expect(Method::GET, &format!("{d}/roles/ghost"), None, 404).await;
    assert_eq!(e["error_description"], "role 'ghost' carries no permission in realm 'default'");
    assert_eq!(api.expect(Method::GET, &format!("{d}/permissions/orders.write"), None, 200).await, write);
    let e = api.expect(Method::GET, &format!("{d}/permissions/ghost"), None, 404).await;
    assert_eq!(e["error_description"], "permission 'ghost' does not exist in realm 'default'");
    api.expect(Method::GET, "/realms/nope/permissions/orders.read", None, 404).await;
    api.expect(Method::GET, "/realms/nope/roles/buyer", None, 404).await;
    assert_eq!(roles["items"][0]["permissions"].as_array().unwrap().len(), 2);

    let app = api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "storefront"})), 201).await;
    let app_id = app["app_id"].as_str().unwrap().to_owned();
    assert_eq!(api.expect(Method::GET, &format!("{d}/apps/storefront"), None, 200).await["app_id"], app_id.as_str());
    assert_eq!(
        strings(&api.expect(Method::GET, &format!("{d}/apps"), None, 200).await, "app_id"),
        std::slice::from_ref(&app_id)
    );
    api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "storefront"})), 409).await;

    let body = json!({"app": "storefront", "name": "web", "scope": "orders", "permissions": ["orders.read"]});
    let k = api.expect(Method::POST, &format!("{d}/api-keys"), Some(body), 201).await;
    let (key_id, secret) = (k["id"].as_str().unwrap().to_owned(), k["key"].as_str().unwrap().to_owned());
    assert_eq!((k["app_id"].as_str(), k["permissions"].clone()), (Some(app_id.as_str()), json!(["orders.read"])));
    // The key works, for a customer with a team...
    let customer = json!({"username": "carol", "password": PASSWORD, "kind": "customer", "roles": ["buyer"],
        "teams": ["blue", "red"]});
    let carol = api.expect(Method::POST, &format!("{d}/users"), Some(customer), 201).await;
    let client = TestClient { id: app_id.clone(), secret: secret.clone() };
    assert_eq!(login(&api.s, &client, "carol").await.status(), 200);
    // ...and is never shown again, nor its hash.
    let got = api.expect(Method::GET, &format!("{d}/api-keys/{key_id}"), None, 200).await;
    let listed = api.expect(Method::GET, &format!("{d}/api-keys?app=storefront"), None, 200).await;
    for shown in [&got, &listed] {
        assert!(!shown.to_string().contains(&secret) && shown.get("key").is_none(), "{shown}");
        assert!(!shown.to_string().contains("hash"), "{shown}");
    }
    assert_eq!(strings(&listed, "id"), std::slice::from_ref(&key_id));

    // Teams: set on accounts, listed with their members.
    let sam = json!({"username": "sam", "teams": ["blue"]});
    let sam = api.expect(Method::POST, &format!("{d}/users"), Some(sam), 201).await;
    let carol_id = carol["id"].as_str().unwrap();
    let sam_id = sam["id"].as_str().unwrap();
    let mut blue = vec![carol_id.to_owned(), sam_id.to_owned()];
    blue.sort();
    let teams = api.expect(Method::GET, &format!("{d}/teams"), None, 200).await;
    assert_eq!(teams["items"], json!([{"name": "blue", "members": blue}, {"name": "red", "members": [carol_id]}]));
    api.expect(Method::PATCH, &format!("{d}/users/sam"), Some(json!({"teams": ["green"]})), 200).await;
    let teams = api.expect(Method::GET, &format!("{d}/teams"), None, 200).await;
    assert_eq!(strings(&teams, "name"), ["blue", "green", "red"]);
    assert_eq!(teams["items"][0]["members"], json!([carol_id]));

    // Revoke: the key stops working, stays listed as revoked, and cannot be revoked twice.
    api.expect(Method::POST, &format!("{d}/api-keys/{key_id}/revoke"), None, 204).await;
    assert_error(login(&api.s, &client, "carol").await, 401, "invalid_client").await;
    assert!(api.expect(Method::GET, &format!("{d}/api-keys/{key_id}"), None, 200).await["revoked_at"].is_i64());
    api.expect(Method::POST, &format!("{d}/api-keys/{key_id}/revoke"), None, 404).await;

    // Reset: every live key of the app revoked.
    let second = api.expect(Method::POST, &format!("{d}/api-keys"), Some(json!({"app": app_id})), 201).await;
    let reset = api.expect(Method::POST, &format!("{d}/apps/storefront/reset"), None, 200).await;
    assert_eq!(reset, json!({"app_id": app_id, "revoked_keys": 1}));
    let second = TestClient { id: app_id.clone(), secret: second["key"].as_str().unwrap().to_owned() };
    assert_error(login(&api.s, &second, "carol").await, 401, "invalid_client").await;
    assert!(api.expect(Method::GET, &format!("{d}/apps/{app_id}"), None, 200).await["reset_at"].is_i64());

    api.expect(Method::DELETE, &format!("{d}/roles/buyer"), None, 204).await;
    api.expect(Method::DELETE, &format!("{d}/roles/buyer"), None, 404).await;
    assert_eq!(api.expect(Method::GET, &format!("{d}/roles"), None, 200).await["items"], json!([]));
    api.expect(Method::DELETE, &format!("{d}/permissions/orders.read"), None, 204).await;
    api.expect(Method::DELETE, &format!("{d}/permissions/orders.read"), None, 404).await;
    api.expect(Method::DELETE, &format!("{d}/apps/storefront"), None, 204).await;
    api.expect(Method::GET, &format!("{d}/apps/{app_id}"), None, 404).await;
    api.expect(Method::GET, &format!("{d}/api-keys/{key_id}"), None, 404).await;
}

#[tokio::test]
async fn apps_keys_permissions_roles_and_teams_are_administered() {
    org_crud(Api::start().await).await;
}

#[tokio::test]
async fn apps_keys_permissions_roles_and_teams_on_postgres() {
    on_postgres("admin_api_orgs", |s| async move { org_crud(Api::on(s).await).await }).await;
}

/// Each bad field is a 400 naming it.
#[tokio::test]
async fn bad_fields_are_named() {
    let api = Api::start().await;
    let d = "/realms/default";
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "p"})), 201).await;
    api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "shop"})), 201).await;
    for (method, path, body, field) in [
        (Method::POST, format!("{d}/apps"), json!({"name": " shop"}), "name"),
        (Method::POST, format!("{d}/apps"), json!({}), "name"),
        (Method::POST, format!("{d}/permissions"), json!({"name": "a b"}), "name"),
        (Method::POST, format!("{d}/api-keys"), json!({"app": "nope"}), "app"),
        (Method::POST, format!("{d}/api-keys"), json!({"app": "shop", "permissions": ["p", "nope"]}), "permissions"),
        (Method::POST, format!("{d}/api-keys"), json!({"app": "shop", "name": ""}), "name"),
        (Method::POST, format!("{d}/api-keys"), json!({"app": "shop", "scope": "a\"b"}), "scope"),
        (Method::POST, format!("{d}/api-keys"), json!({"app": "shop", "permissions": [1]}), "permissions[0]"),
        (Method::PUT, format!("{d}/roles/buyer"), json!({"permissions": ["nope"]}), "permissions"),
        (Method::PUT, format!("{d}/roles/a%20b"), json!({"permissions": ["p"]}), "role"),
    ] {
        let e = api.expect(method.clone(), &path, Some(body.clone()), 400).await;
        assert_eq!(e["error"], "invalid_request", "{method} {path} {body}: {e}");
        assert!(e["fields"][field].is_string(), "{method} {path} {body}: {e}");
    }
    let e = api.expect(Method::GET, &format!("{d}/api-keys?app=nope"), None, 400).await;
    assert!(e["fields"]["app"].is_string(), "{e}");
    // Nothing was written by the refused requests.
    assert_eq!(api.expect(Method::GET, &format!("{d}/api-keys"), None, 200).await["items"], json!([]));
    assert_eq!(api.expect(Method::GET, &format!("{d}/roles"), None, 200).await["items"], json!([]));
}

/// A token scoped to another realm sees none of these resources: all 404.
#[tokio::test]
async fn another_realms_token_sees_no_org_object() {
    let api = Api::start().await;
    let d = "/realms/default";
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 201).await;
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "p"})), 201).await;
    api.expect(Method::PUT, &format!("{d}/roles/buyer"), Some(json!({"permissions": ["p"]})), 200).await;
    api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "shop"})), 201).await;
    let k = api.expect(Method::POST, &format!("{d}/api-keys"), Some(json!({"app": "shop"})), 201).await;
    let key_id = k["id"].as_str().unwrap();
    let acme = Api::token_for(&api.s, Some("acme")).await;
    for (m, path, body) in [
        (Method::GET, format!("{d}/apps"), None),
        (Method::POST, format!("{d}/apps"), Some(json!({"name": "x"}))),
        (Method::GET, format!("{d}/apps/shop"), None),
        (Method::DELETE, format!("{d}/apps/shop"), None),
        (Method::POST, format!("{d}/apps/shop/reset"), None),
        (Method::PATCH, format!("{d}/apps/shop"), Some(json!({"name": "x"}))),
        (Method::PATCH, format!("{d}/api-keys/{key_id}"), Some(json!({"name": "x"}))),
        (Method::GET, format!("{d}/permissions/p"), None),
        (Method::GET, format!("{d}/roles/buyer"), None),
        (Method::GET, format!("{d}/api-keys"), None),
        (Method::POST, format!("{d}/api-keys"), Some(json!({"app": "shop"}))),
        (Method::GET, format!("{d}/api-keys/{key_id}"), None),
        (Method::POST, format!("{d}/api-keys/{key_id}/revoke"), None),
        (Method::GET, format!("{d}/permissions"), None),
        (Method::POST, format!("{d}/permissions"), Some(json!({"name": "q"}))),
        (Method::DELETE, format!("{d}/permissions/p"), None),
        (Method::GET, format!("{d}/roles"), None),
        (Method::PUT, format!("{d}/roles/buyer"), Some(json!({"permissions": []}))),
        (Method::DELETE, format!("{d}/roles/buyer"), None),
        (Method::GET, format!("{d}/teams"), None),
    ] {
        let r = api.call_as(Some(&acme), m.clone(), &path, body).await;
        let e = assert_error(r, 404, "not_found").await;
        assert_eq!(e["error_description"], "realm 'default' does not exist", "{m} {path}");
    }
    // The same key id under the token's own realm is not found either.
    let r = api.call_as(Some(&acme), Method::GET, &format!("/realms/acme/api-keys/{key_id}"), None).await;
    assert_error(r, 404, "not_found").await;
    // Untouched.
    api.expect(Method::GET, &format!("{d}/apps/shop"), None, 200).await;
    let after = api.expect(Method::GET, &format!("{d}/api-keys/{key_id}"), None, 200).await;
    assert!(after["revoked_at"].is_null() && after["name"] == "default", "{after}");
    assert_eq!(
        api.expect(Method::GET, &format!("{d}/roles"), None, 200).await["items"][0]["permissions"],
        json!(["p"])
    );
}

/// Pages of permissions and teams walk every item once, in order.
#[tokio::test]
async fn permissions_and_teams_are_paginated() {
    let api = Api::start().await;
    let d = "/realms/default";
    let names = ["e", "a", "d", "b", "c"];
    for n in names {
        api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": n})), 201).await;
        let user = json!({"username": format!("u{n}"), "teams": [format!("t{n}")]});
        api.expect(Method::POST, &format!("{d}/users"), Some(user), 201).await;
    }
    for (resource, prefix) in [("permissions", ""), ("teams", "t")] {
        let (mut seen, mut after) = (Vec::new(), None::<String>);
        loop {
            let q = after.as_ref().map_or(String::new(), |a| format!("&after={a}"));
            let page = api.expect(Method::GET, &format!("{d}/{resource}?limit=2{q}"), None, 200).await;
            assert!(page["items"].as_array().unwrap().len() <= 2);
            seen.extend(strings(&page, "name"));
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
        let expected: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|n| format!("{prefix}{n}")).collect();
        assert_eq!(seen, expected, "{resource}");
    }
    api.expect(Method::GET, &format!("{d}/teams?limit=0"), None, 400).await;
}

/// Every change to the organization model reaches the audit hook once; reads and
/// refusals do not.
#[tokio::test]
async fn org_changes_are_audited() {
    let api = Api::start().await;
    let actor = api.s.admin().admin_tokens().await.unwrap()[0].id_hex();
    let d = "/realms/default";
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "p"})), 201).await;
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "p"})), 409).await;
    api.expect(Method::PUT, &format!("{d}/roles/r"), Some(json!({"permissions": ["p"]})), 200).await;
    api.expect(Method::GET, &format!("{d}/roles"), None, 200).await;
    let app = api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "shop"})), 201).await;
    api.expect(Method::GET, &format!("{d}/apps/shop"), None, 200).await;
    let k = api.expect(Method::POST, &format!("{d}/api-keys"), Some(json!({"app": "shop"})), 201).await;
    api.expect(Method::POST, &format!("{d}/api-keys"), Some(json!({"app": "nope"})), 400).await;
    let key_id = k["id"].as_str().unwrap();
    api.expect(Method::PATCH, &format!("{d}/api-keys/{key_id}"), Some(json!({"permissions": ["p"]})), 200).await;
    api.expect(Method::PATCH, &format!("{d}/api-keys/{key_id}"), Some(json!({"test": true})), 400).await;
    api.expect(Method::PATCH, &format!("{d}/apps/shop"), Some(json!({"name": "store"})), 200).await;
    api.expect(Method::PATCH, &format!("{d}/apps/store"), Some(json!({"name": ""})), 400).await;
    api.expect(Method::GET, &format!("{d}/roles/r"), None, 200).await;
    api.expect(Method::GET, &format!("{d}/permissions/p"), None, 200).await;
    api.expect(Method::POST, &format!("{d}/api-keys/{key_id}/revoke"), None, 204).await;
    api.expect(Method::POST, &format!("{d}/apps/store/reset"), None, 200).await;
    api.expect(Method::GET, &format!("{d}/teams"), None, 200).await;
    api.expect(Method::DELETE, &format!("{d}/roles/r"), None, 204).await;
    api.expect(Method::DELETE, &format!("{d}/permissions/p"), None, 204).await;
    api.expect(Method::DELETE, &format!("{d}/apps/store"), None, 204).await;

    let events = admin_changes(&api, "default", &actor).await;
    let got: Vec<(&str, &str)> =
        events.iter().map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap())).collect();
    let app_id = app["app_id"].as_str().unwrap();
    assert_eq!(
        got,
        [
            ("permission.create", "p"),
            ("role.set_permissions", "r"),
            ("app.create", app_id),
            ("api_key.create", key_id),
            ("api_key.update", key_id),
            ("app.update", app_id),
            ("api_key.revoke", key_id),
            ("app.reset", app_id),
            ("role.delete_permissions", "r"),
            ("permission.delete", "p"),
            ("app.delete", app_id),
        ]
    );
    for e in &events {
        assert_eq!(e["realm"], "default", "{e}");
    }
}

/// A resource-server client created over the API, to introspect with.
async fn resource_server(api: &Api) -> TestClient {
    let body = json!({"name": "rs", "grant_types": ["client_credentials"], "resource_server": true});
    let c = api.expect(Method::POST, "/realms/default/clients", Some(body), 201).await;
    TestClient {
        id: c["client_id"].as_str().unwrap().to_owned(),
        secret: c["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// Renaming an app keeps its keys working; narrowing a key holds from its next use:
/// its own introspection, a refresh through it and a new sign-in.
async fn org_updates(api: Api) {
    let d = "/realms/default";
    for p in ["orders.read", "orders.write"] {
        api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": p})), 201).await;
    }
    let role = json!({"permissions": ["orders.read", "orders.write"]});
    api.expect(Method::PUT, &format!("{d}/roles/buyer"), Some(role), 200).await;
    let app = api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "shop"})), 201).await;
    let app_id = app["app_id"].as_str().unwrap().to_owned();
    let body = json!({"app": "shop", "name": "web", "scope": "orders catalog",
        "permissions": ["orders.read", "orders.write"]});
    let k = api.expect(Method::POST, &format!("{d}/api-keys"), Some(body), 201).await;
    let (key_id, secret) = (k["id"].as_str().unwrap().to_owned(), k["key"].as_str().unwrap().to_owned());
    let customer = json!({"username": "carol", "password": PASSWORD, "kind": "customer", "roles": ["buyer"]});
    api.expect(Method::POST, &format!("{d}/users"), Some(customer), 201).await;
    let rs = resource_server(&api).await;
    let client = TestClient { id: app_id.clone(), secret: secret.clone() };
    let before: Value = login(&api.s, &client, "carol").await.json().await.unwrap();
    let seen = api.s.introspect("default", &rs, &secret).await;
    assert_eq!((seen["kind"].as_str(), seen["scope"].as_str()), (Some("api"), Some("orders catalog")), "{seen}");

    // The app: renamed, found by its new name only, its key still signing customers in.
    let renamed = api.expect(Method::PATCH, &format!("{d}/apps/shop"), Some(json!({"name": "store"})), 200).await;
    assert_eq!((renamed["app_id"].as_str(), renamed["name"].as_str()), (Some(app_id.as_str()), Some("store")));
    assert_eq!(api.expect(Method::GET, &format!("{d}/apps/store"), None, 200).await, renamed);
    api.expect(Method::GET, &format!("{d}/apps/shop"), None, 404).await;
    let as_client = api.expect(Method::GET, &format!("{d}/clients/{app_id}"), None, 200).await;
    assert_eq!(as_client["name"], "store", "the app's name is its client's");
    assert_eq!(api.expect(Method::PATCH, &format!("{d}/apps/store"), Some(json!({})), 200).await, renamed);
    assert_eq!(login(&api.s, &client, "carol").await.status(), 200);

    // The key: narrowed, and narrowed at once wherever it is used.
    let change = json!({"name": "web-2", "scope": "orders", "permissions": ["orders.read"], "test": false});
    let k = api.expect(Method::PATCH, &format!("{d}/api-keys/{key_id}"), Some(change), 200).await;
    assert_eq!(
        (k["name"].as_str(), k["scope"].as_str(), k["permissions"].clone(), k["test"].as_bool()),
        (Some("web-2"), Some("orders"), json!(["orders.read"]), Some(false))
    );
    assert!(!k.to_string().contains(&secret) && k.get("key").is_none(), "{k}");
    assert_eq!(api.expect(Method::GET, &format!("{d}/api-keys/{key_id}"), None, 200).await, k);
    let seen = api.s.introspect("default", &rs, &secret).await;
    assert_eq!((seen["active"].as_bool(), seen["scope"].as_str()), (Some(true), Some("orders")), "{seen}");
    assert_eq!(seen["permissions"], json!(["orders.read"]), "{seen}");
    let form = [("grant_type", "refresh_token"), ("refresh_token", before["refresh_token"].as_str().unwrap())];
    let refreshed = api.s.post_form(&api.s.url("default", "/oauth/token"), Some(&client), &form).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let fresh: Value = login(&api.s, &client, "carol").await.json().await.unwrap();
    for tokens in [&refreshed, &fresh] {
        let seen = api.s.introspect("default", &rs, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!((seen["kind"].as_str(), seen["scope"].as_str()), (Some("customer"), Some("orders")), "{seen}");
        assert_eq!(seen["permissions"], json!(["orders.read"]), "{seen}");
    }
    // Cleared, the key grants no permission and no scope.
    let cleared = json!({"scope": "", "permissions": []});
    let k = api.expect(Method::PATCH, &format!("{d}/api-keys/{key_id}"), Some(cleared), 200).await;
    assert_eq!((k["scope"].as_str(), k["permissions"].clone()), (Some(""), json!([])));
    assert_eq!(api.s.introspect("default", &rs, &secret).await["permissions"], json!([]));
}

#[tokio::test]
async fn apps_and_keys_are_updated_and_a_narrowed_key_is_narrowed_at_its_next_use() {
    org_updates(Api::start().await).await;
}

#[tokio::test]
async fn apps_and_keys_are_updated_on_postgres() {
    on_postgres("admin_api_org_updates", |s| async move { org_updates(Api::on(s).await).await }).await;
}

/// A refused update says why (404 for what does not exist, 400 naming the field, 409
/// for a taken name or a revoked key) and changes nothing.
#[tokio::test]
async fn refused_updates_say_why_and_change_nothing() {
    let api = Api::start().await;
    let d = "/realms/default";
    api.expect(Method::POST, &format!("{d}/permissions"), Some(json!({"name": "p"})), 201).await;
    api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "shop"})), 201).await;
    api.expect(Method::POST, &format!("{d}/apps"), Some(json!({"name": "other"})), 201).await;
    let body = json!({"app": "shop", "name": "web", "scope": "orders", "permissions": ["p"]});
    let k = api.expect(Method::POST, &format!("{d}/api-keys"), Some(body), 201).await;
    let key_id = k["id"].as_str().unwrap().to_owned();
    let dead = api.expect(Method::POST, &format!("{d}/api-keys"), Some(json!({"app": "shop"})), 201).await;
    let dead_id = dead["id"].as_str().unwrap().to_owned();
    api.expect(Method::POST, &format!("{d}/api-keys/{dead_id}/revoke"), None, 204).await;
    let key_path = format!("{d}/api-keys/{key_id}");
    let snapshot = || async {
        let mut all = Vec::new();
        for path in [format!("{d}/apps/shop"), format!("{d}/api-keys/{key_id}"), format!("{d}/api-keys/{dead_id}")] {
            all.push(api.expect(Method::GET, &path, None, 200).await);
        }
        all
    };
    let before = snapshot().await;

    for (path, body, status, field) in [
        (format!("{d}/apps/ghost"), json!({"name": "x"}), 404, None),
        ("/realms/nope/apps/shop".to_owned(), json!({"name": "x"}), 404, None),
        (format!("{d}/api-keys/0123456789abcdef0123456789abcdef"), json!({"name": "x"}), 404, None),
        (format!("{d}/api-keys/zz"), json!({"name": "x"}), 404, None),
        (format!("{d}/apps/shop"), json!({"name": " shop"}), 400, Some("name")),
        (format!("{d}/apps/shop"), json!({"name": ""}), 400, Some("name")),
        (format!("{d}/apps/shop"), json!({"name": 5}), 400, Some("name")),
        (format!("{d}/apps/shop"), json!({"name": "other"}), 409, None),
        (key_path.clone(), json!({"test": true}), 400, Some("test")),
        (key_path.clone(), json!({"name": "ok", "permissions": ["p", "nope"]}), 400, Some("permissions")),
        (key_path.clone(), json!({"name": "ok", "scope": "a\"b"}), 400, Some("scope")),
        (key_path.clone(), json!({"name": ""}), 400, Some("name")),
        (key_path.clone(), json!({"permissions": [1]}), 400, Some("permissions[0]")),
        (format!("{d}/api-keys/{dead_id}"), json!({"name": "again"}), 409, None),
    ] {
        let e = api.expect(Method::PATCH, &path, Some(body.clone()), status).await;
        assert!(!e["error_description"].as_str().unwrap_or_default().is_empty(), "{path} {body}: {e}");
        if let Some(field) = field {
            assert_eq!(e["error"], "invalid_request", "{path} {body}: {e}");
            assert!(e["fields"][field].is_string(), "{path} {body}: {e}");
        }
    }
    let e = api.expect(Method::PATCH, &key_path, Some(json!({"test": true})), 400).await;
    assert_eq!(
        e["error_description"],
        "test: this is a live key and its mode is part of the key itself; create a new key instead"
    );
    let e = api.expect(Method::PATCH, &format!("{d}/api-keys/{dead_id}"), Some(json!({})), 409).await;
    assert_eq!(e["error_description"], format!("API key '{dead_id}' is revoked; create a new key"));
    for path in [format!("{d}/apps/shop"), key_path.clone()] {
        let r = api.s.http.patch(api.url(&path)).bearer_auth(&api.token).header("content-type", "application/json");
        assert_error(r.body("{\"name\": ").send().await.unwrap(), 400, "invalid_request").await;
    }
    let e = api.expect(Method::PATCH, &key_path, Some(json!({"app": "other"})), 400).await;
    assert!(e["error_description"].as_str().unwrap().contains("app"), "{e}");

    assert_eq!(snapshot().await, before);
}
