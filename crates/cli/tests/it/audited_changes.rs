//! Changes made with the CLI are `admin.change` audit events (actor `cli:` and the
//! OS user, the admin API's action names, realm and target), never with a secret;
//! reads record nothing.

use serde_json::Value;

use super::{Workspace, with_stdin};

fn changes(w: &Workspace, realm: &str) -> Vec<Value> {
    let events = w.json(&["audit", "list", "--realm", realm, "--kind", "admin.change", "--json"]);
    events.as_array().unwrap().clone()
}

#[test]
fn cli_changes_are_audited_without_secrets_and_reads_are_not() {
    let w = Workspace::new();
    w.json(&["realm", "create", "acme", "--json"]);
    let client = w.json(&["client", "create", "--realm", "acme", "--name", "svc", "--scope", "read write", "--json"]);
    let secret = client["client_secret"].as_str().unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    w.json(&["client", "update", "--realm", "acme", "svc", "--scope", "read", "--json"]);
    let password = "correct horse battery";
    let out = with_stdin(
        &w,
        &["user", "create", "--realm", "acme", "--username", "alice", "--password-stdin", "--json"],
        &format!("{password}\n"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alice: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app = w.json(&["app", "create", "--realm", "acme", "--name", "shop", "--json"]);
    // Another operator, named by the environment.
    let out =
        w.cmd(&["apikey", "create", "--realm", "acme", "--app", "shop", "--json"]).env("USER", "ops-bob").output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_secret = key["key"].as_str().unwrap();

    let events = changes(&w, "acme");
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["realm.create", "client.create", "client.update", "user.create", "app.create", "api_key.create"]
    );
    let targets: Vec<&str> = events.iter().map(|e| e["target"].as_str().unwrap()).collect();
    let expected = [
        "acme",
        client_id,
        client_id,
        alice["id"].as_str().unwrap(),
        app["app_id"].as_str().unwrap(),
        key["id"].as_str().unwrap(),
    ];
    assert_eq!(targets, expected, "{events:?}");
    let me = format!("cli:{}", std::env::var("USER").ok().filter(|u| !u.is_empty()).as_deref().unwrap_or("unknown"));
    for e in &events[..5] {
        assert_eq!(e["actor"], me.as_str(), "{e}");
        assert_eq!(e["realm"], "acme", "{e}");
    }
    assert_eq!(events[5]["actor"], "cli:ops-bob");
    let update = &events[2]["detail"];
    assert_eq!(update["before"]["scopes"], serde_json::json!(["read", "write"]), "{update}");
    assert_eq!(update["after"]["scopes"], serde_json::json!(["read"]), "{update}");

    let shown = Value::Array(events.clone()).to_string();
    for s in [secret, password, key_secret] {
        assert!(!shown.contains(s), "a secret reached the audit log: {shown}");
    }
    assert!(!shown.contains("argon2") && !shown.contains("secret_hash"), "{shown}");

    w.json(&["client", "show", "--realm", "acme", "svc", "--json"]);
    w.json(&["client", "list", "--realm", "acme", "--json"]);
    w.json(&["user", "list", "--realm", "acme", "--json"]);
    w.json(&["apikey", "list", "--realm", "acme", "--json"]);
    assert_eq!(changes(&w, "acme").len(), events.len(), "a read recorded an event");
}

#[test]
fn client_unlock_answers_the_cleared_counters_and_is_audited() {
    let w = Workspace::new();
    let client = w.json(&["client", "create", "--realm", "default", "--name", "svc", "--json"]);
    let client_id = client["client_id"].as_str().unwrap();
    let unlocked = w.json(&["client", "unlock", "--realm", "default", "svc", "--json"]);
    assert_eq!(unlocked["client_id"], client_id, "{unlocked}");
    assert_eq!(unlocked["cleared_counters"], 0, "{unlocked}");
    w.refused(&["client", "unlock", "--realm", "default", "nope"], "client 'nope' does not exist");
    w.refused(&["client", "unlock", "--realm", "nope", "svc"], "realm 'nope'");
    let events = changes(&w, "default");
    let last = events.last().unwrap();
    assert_eq!((&last["action"], &last["target"]), (&Value::from("client.unlock"), &Value::from(client_id)));
    assert_eq!(events.iter().filter(|e| e["action"] == "client.unlock").count(), 1, "refusals record nothing");
}

/// Events of no realm are listed with `--server`, never with a realm's; `audit list`
/// takes exactly one of `--realm` and `--server`.
#[test]
fn audit_list_server_shows_the_events_of_no_realm() {
    let w = Workspace::new();
    let token = w.json(&["admin-token", "create", "--json"]);
    w.json(&["admin-token", "create", "--realm", "default", "--json"]);
    let events = w.json(&["audit", "list", "--server", "--json"]);
    let events = events.as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["admin_token.create"], "the realm's token is the realm's: {events:?}");
    assert!(events[0]["realm"].is_null());
    assert!(!Value::Array(events.clone()).to_string().contains(token["token"].as_str().unwrap()));
    let realm = changes(&w, "default");
    assert_eq!(realm.iter().filter(|e| e["action"] == "admin_token.create").count(), 1, "{realm:?}");

    w.refused(&["audit", "list"], "--realm REALM, or --server");
    w.refused(&["audit", "list", "--realm", "default", "--server"], "cannot be used with");
    w.refused(&["audit", "list", "--server", "--kind", "nope"], "--kind");
}
