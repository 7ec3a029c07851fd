//! `portcullis admin-token`: created, listed and revoked through the real binary, and
//! used against `portcullis serve`.

use serde_json::Value;

use super::{Workspace, serve};

#[test]
fn admin_token_create_list_revoke() {
    let w = Workspace::new();
    w.json(&["realm", "create", "acme", "--json"]);
    let all = w.json(&["admin-token", "create", "--json"]);
    let acme = w.json(&["admin-token", "create", "--realm", "acme", "--json"]);
    let token = all["token"].as_str().unwrap();
    assert!(token.starts_with("pcadm_") && token.len() == 82, "{token}");
    assert_eq!(all["realm"], Value::Null);
    assert_eq!(acme["realm"], "acme");

    let list = w.json(&["admin-token", "list", "--json"]);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [all["id"].as_str().unwrap(), acme["id"].as_str().unwrap()]);
    let shown = list.to_string();
    assert!(!shown.contains(token) && !shown.contains("token\""), "a token is shown again: {shown}");

    let id = acme["id"].as_str().unwrap();
    let revoked = w.json(&["admin-token", "revoke", id, "--json"]);
    assert_eq!(revoked["revoked"], true);
    let list = w.json(&["admin-token", "list", "--json"]);
    assert!(list[1]["revoked_at"].is_i64(), "{list}");
    assert!(list[0]["revoked_at"].is_null(), "{list}");
    w.refused(&["admin-token", "revoke", id], "no live admin token");

    // Without --json the token is still printed (once), as a line of its own.
    let out = w.run(&["admin-token", "create"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.starts_with("token") && l.contains("pcadm_")));
}

#[test]
fn admin_token_bad_input_is_one_line_and_writes_nothing() {
    let w = Workspace::new();
    w.refused(&["admin-token", "create", "--realm", "nowhere"], "realm 'nowhere' does not exist");
    w.refused(&["admin-token", "create", "--realm", ""], "realm '' does not exist");
    w.refused(&["admin-token", "revoke", "xyz"], "'xyz' is not an admin token id");
    w.refused(&["admin-token", "revoke", &"0".repeat(32)], "no live admin token");
    assert_eq!(w.json(&["admin-token", "list", "--json"]), serde_json::json!([]));
}

#[tokio::test]
async fn admin_tokens_open_the_admin_api_until_revoked() {
    let w = Workspace::new();
    let created = w.json(&["admin-token", "create", "--json"]);
    let (_server, base) = serve(&w);
    let http = reqwest::Client::new();
    let get = |token: &str| http.get(format!("{base}/admin/realms")).bearer_auth(token).send();
    let r = get(created["token"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["items"][0]["name"], "default", "{body}");

    w.json(&["admin-token", "revoke", created["id"].as_str().unwrap(), "--json"]);
    let r = get(created["token"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token") && challenge.contains("revoked"), "{challenge}");
}
