//! Every change through the admin API is audited once, after it succeeded, with who,
//! what, where, the request id and, for updates, the object before and after; reads
//! and refusals are not. Read back through the admin API's own audit listing.

use reqwest::Method;
use serde_json::{Value, json};

use super::Api;

/// The admin changes made by `actor` in `realm`, oldest first.
pub(super) async fn admin_changes(api: &Api, realm: &str, actor: &str) -> Vec<Value> {
    let page = api.expect(Method::GET, &format!("/realms/{realm}/audit?kind=admin.change&limit=200"), None, 200).await;
    page["items"].as_array().unwrap().iter().filter(|e| e["actor"] == actor).cloned().collect()
}

#[tokio::test]
async fn every_change_is_audited_once_and_reads_are_not() {
    let api = Api::start().await;
    let actor = api.s.admin().admin_tokens().await.unwrap()[0].id_hex();

    let c = api.expect(Method::POST, "/realms/default/clients", Some(json!({"name": "svc"})), 201).await;
    let id = c["client_id"].as_str().unwrap().to_owned();
    api.expect(Method::GET, &format!("/realms/default/clients/{id}"), None, 200).await;
    api.expect(Method::GET, "/realms/default/clients", None, 200).await;
    api.expect(Method::PATCH, &format!("/realms/default/clients/{id}"), Some(json!({"name": ""})), 400).await;
    api.expect(Method::PATCH, &format!("/realms/default/clients/{id}"), Some(json!({"disabled": true})), 200).await;
    api.expect(Method::POST, "/realms/default/keys/rotate", None, 200).await;
    api.expect(Method::DELETE, &format!("/realms/default/clients/{id}"), None, 204).await;
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 201).await;

    let events = admin_changes(&api, "default", &actor).await;
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["client.create", "client.update", "keys.rotate", "client.delete"]);
    let acme = admin_changes(&api, "acme", &actor).await;
    assert_eq!(acme.iter().map(|e| &e["action"]).collect::<Vec<_>>(), ["realm.create"]);
    for e in events.iter().chain(&acme) {
        assert_eq!(e["kind"], "admin.change", "{e}");
        assert!(e["request_id"].as_str().is_some_and(|r| r.len() > 2), "{e}");
        assert_eq!(e["address"], "127.0.0.1", "{e}");
        assert!(e["at"].as_i64().is_some_and(|at| at > 0), "{e}");
    }
    assert_eq!(events[0]["realm"], "default");
    assert_eq!(events[0]["target"], id.as_str());
    // The update carries the client before and after, and no secret of any kind.
    let detail = &events[1]["detail"];
    assert_eq!(detail["before"]["disabled"], false, "{detail}");
    assert_eq!(detail["after"]["disabled"], true, "{detail}");
    assert_eq!(detail["before"]["client_id"], id.as_str());
    assert!(!detail.to_string().contains(c["client_secret"].as_str().unwrap()));
    assert!(!detail.to_string().contains("secret_hash"));
}
