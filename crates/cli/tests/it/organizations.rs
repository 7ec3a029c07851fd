//! Apps, API keys, permissions and roles from the command line.

use serde_json::Value;

use crate::Workspace;

fn len(v: &Value) -> usize {
    v.as_array().unwrap().len()
}

#[test]
fn apps_keys_permissions_and_roles_lifecycle() {
    let w = Workspace::new();
    let p = w.json(&["permission", "create", "--realm", "default", "orders.read", "--json"]);
    assert_eq!((p["name"].as_str(), p["bit"].as_u64()), (Some("orders.read"), Some(0)));
    let p = w.json(&["permission", "create", "--realm", "default", "orders.write", "--json"]);
    assert_eq!(p["bit"], 1);
    assert_eq!(len(&w.json(&["permission", "list", "--realm", "default", "--json"])), 2);
    let role = w.json(&["role", "grant", "--realm", "default", "buyer", "--permissions", "orders.read", "--json"]);
    assert_eq!(role["permissions"], serde_json::json!(["orders.read"]));
    let role = w.json(&["role", "grant", "--realm", "default", "buyer", "--permissions", "orders.write", "--json"]);
    assert_eq!(role["permissions"], serde_json::json!(["orders.read", "orders.write"]));

    let app = w.json(&["app", "create", "--realm", "default", "--name", "storefront", "--json"]);
    let app_id = app["app_id"].as_str().unwrap().to_owned();
    let key = w.json(&[
        "apikey",
        "create",
        "--realm",
        "default",
        "--app",
        "storefront",
        "--scope",
        "orders",
        "--permissions",
        "orders.read,orders.write",
        "--test",
        "--json",
    ]);
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("pcak_test_"), "{secret}");
    assert_eq!(key["app_id"].as_str(), Some(app_id.as_str()));
    let id = key["id"].as_str().unwrap().to_owned();
    let shown = w.json(&["apikey", "show", "--realm", "default", &id, "--json"]);
    assert_eq!(shown["permissions"], serde_json::json!(["orders.read", "orders.write"]));
    assert!(shown.get("key").is_none() && !shown.to_string().contains(secret), "the key is shown once");
    let live = w.json(&["apikey", "create", "--realm", "default", "--app", &app_id, "--json"]);
    assert!(live["key"].as_str().unwrap().starts_with("pcak_live_"));
    assert_eq!(len(&w.json(&["apikey", "list", "--realm", "default", "--app", "storefront", "--json"])), 2);

    let reset = w.json(&["app", "reset", "--realm", "default", "storefront", "--json"]);
    assert_eq!(reset["revoked_keys"], 2);
    let keys = w.json(&["apikey", "list", "--realm", "default", "--json"]);
    assert!(keys.as_array().unwrap().iter().all(|k| k["revoked_at"].is_i64()));
    assert!(w.json(&["app", "show", "--realm", "default", &app_id, "--json"])["reset_at"].is_i64());
    w.refused(&["apikey", "revoke", "--realm", "default", &id], "already revoked");

    let fresh = w.json(&["apikey", "create", "--realm", "default", "--app", "storefront", "--json"]);
    let fresh_id = fresh["id"].as_str().unwrap();
    assert!(w.run(&["apikey", "revoke", "--realm", "default", fresh_id]).status.success());
    assert_eq!(len(&w.json(&["app", "list", "--realm", "default", "--json"])), 1);
    assert!(w.run(&["app", "delete", "--realm", "default", "storefront"]).status.success());
    assert_eq!(len(&w.json(&["app", "list", "--realm", "default", "--json"])), 0);
    assert_eq!(len(&w.json(&["apikey", "list", "--realm", "default", "--json"])), 0);
    assert!(w.run(&["permission", "delete", "--realm", "default", "orders.write"]).status.success());
    let roles = w.json(&["role", "list", "--realm", "default", "--json"]);
    assert_eq!(roles[0]["permissions"], serde_json::json!(["orders.read"]));
}

#[test]
fn bad_organization_input_is_one_line_naming_it_and_writes_nothing() {
    let w = Workspace::new();
    w.json(&["app", "create", "--realm", "default", "--name", "storefront", "--json"]);
    w.json(&["permission", "create", "--realm", "default", "orders.read", "--json"]);

    w.refused(&["app", "create", "--realm", "nope", "--name", "x"], "realm 'nope' does not exist");
    w.refused(&["app", "create", "--realm", "default", "--name", "storefront"], "storefront");
    w.refused(&["app", "reset", "--realm", "default", "ghost"], "app 'ghost' does not exist");
    w.refused(&["app", "show", "--realm", "nope", "storefront"], "realm 'nope'");
    w.refused(&["apikey", "create", "--realm", "nope", "--app", "storefront"], "realm 'nope' does not exist");
    w.refused(&["apikey", "create", "--realm", "default", "--app", "ghost"], "app 'ghost' does not exist");
    w.refused(
        &["apikey", "create", "--realm", "default", "--app", "storefront", "--permissions", "orders.read,nope"],
        "permission 'nope' does not exist",
    );
    w.refused(&["apikey", "create", "--realm", "default", "--app", "storefront", "--scope", "a\"b"], "scope");
    w.refused(&["apikey", "show", "--realm", "default", "zz"], "api key 'zz' does not exist");
    w.refused(&["permission", "create", "--realm", "nope", "p"], "realm 'nope' does not exist");
    w.refused(&["permission", "create", "--realm", "default", "a b"], "invalid permission name");
    w.refused(&["permission", "create", "--realm", "default", "orders.read"], "already has a permission");
    w.refused(&["role", "grant", "--realm", "default", "buyer", "--permissions", "nope"], "permission 'nope'");
    w.refused(&["client", "rotate-secret", "--realm", "default", "storefront"], "is an app");
    w.refused(
        &["client", "update", "--realm", "default", "storefront", "--grant-types", "client_credentials"],
        "is an app",
    );

    w.refused(&["app", "update", "--realm", "default", "ghost", "--name", "x"], "app 'ghost' does not exist");
    w.refused(&["app", "update", "--realm", "nope", "storefront", "--name", "x"], "realm 'nope' does not exist");
    w.refused(&["app", "update", "--realm", "default", "storefront", "--name", " x"], "invalid app name");
    w.refused(&["apikey", "update", "--realm", "default", "zz", "--name", "x"], "api key 'zz' does not exist");
    w.refused(
        &["apikey", "update", "--realm", "default", "0123456789abcdef0123456789abcdef", "--name", "x"],
        "does not exist",
    );

    assert_eq!(w.json(&["app", "list", "--realm", "default", "--json"])[0]["name"], "storefront");
    assert_eq!(len(&w.json(&["apikey", "list", "--realm", "default", "--json"])), 0);
    assert_eq!(len(&w.json(&["permission", "list", "--realm", "default", "--json"])), 1);
    assert_eq!(len(&w.json(&["role", "list", "--realm", "default", "--json"])), 0);
}

#[test]
fn apps_are_renamed_and_keys_changed_in_place() {
    let w = Workspace::new();
    for p in ["orders.read", "orders.write"] {
        w.json(&["permission", "create", "--realm", "default", p, "--json"]);
    }
    let app = w.json(&["app", "create", "--realm", "default", "--name", "storefront", "--json"]);
    w.json(&["app", "create", "--realm", "default", "--name", "backoffice", "--json"]);
    let renamed = w.json(&["app", "update", "--realm", "default", "storefront", "--name", "shop", "--json"]);
    assert_eq!((renamed["app_id"].clone(), renamed["name"].as_str()), (app["app_id"].clone(), Some("shop")));
    w.refused(&["app", "show", "--realm", "default", "storefront"], "app 'storefront' does not exist");
    w.refused(&["app", "update", "--realm", "default", "shop", "--name", "backoffice"], "already has a client or app");

    let key = w.json(&[
        "apikey",
        "create",
        "--realm",
        "default",
        "--app",
        "shop",
        "--scope",
        "orders catalog",
        "--permissions",
        "orders.read,orders.write",
        "--json",
    ]);
    let id = key["id"].as_str().unwrap();
    let before = w.json(&["apikey", "show", "--realm", "default", id, "--json"]);
    w.refused(
        &["apikey", "update", "--realm", "default", id, "--permissions", "orders.read,nope"],
        "permission 'nope'",
    );
    w.refused(&["apikey", "update", "--realm", "default", id, "--name", ""], "invalid api key name");
    w.refused(&["apikey", "update", "--realm", "default", id, "--scope", "a\"b"], "scope");
    assert_eq!(w.json(&["apikey", "show", "--realm", "default", id, "--json"]), before, "refusals change nothing");

    let updated = w.json(&[
        "apikey",
        "update",
        "--realm",
        "default",
        id,
        "--name",
        "web",
        "--permissions",
        "orders.read",
        "--json",
    ]);
    assert_eq!(updated["name"], "web");
    assert_eq!(updated["scope"], "orders catalog", "left as it was");
    assert_eq!(updated["permissions"], serde_json::json!(["orders.read"]));
    assert!(updated.get("key").is_none() && !updated.to_string().contains(key["key"].as_str().unwrap()));
    let cleared = w.json(&["apikey", "update", "--realm", "default", id, "--scope", "", "--permissions", "", "--json"]);
    assert_eq!((cleared["scope"].as_str(), cleared["permissions"].clone()), (Some(""), serde_json::json!([])));
    assert_eq!(w.json(&["apikey", "show", "--realm", "default", id, "--json"]), cleared);

    assert!(w.run(&["apikey", "revoke", "--realm", "default", id]).status.success());
    w.refused(&["apikey", "update", "--realm", "default", id, "--name", "late"], "is revoked");
}
