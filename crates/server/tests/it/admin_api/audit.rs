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

/// `GET /admin/audit` lists the events of no realm (written here as the CLI writes
/// them), paged and filtered as a realm's listing, never a realm's event; only a
/// token for every realm may read it.
#[tokio::test]
async fn the_servers_events_are_listed_apart_for_a_token_of_every_realm() {
    use portcullis_core::audit::{AuditKind, AuditRecord};
    let api = Api::start().await;
    api.expect(Method::POST, "/realms", Some(json!({"name": "acme"})), 201).await;
    let now = api.s.authority.now();
    let server: Vec<AuditRecord> = ["admin_token.create", "public_url.set", "keys.rewrap"]
        .iter()
        .enumerate()
        .map(|(i, action)| AuditRecord::admin_change(None, now + i as i64, "cli:ops".into(), action, None, None))
        .collect();
    let revoked = AuditRecord::new(AuditKind::GrantRevoked, None, now + 3);
    api.s.store.insert_audit_events(&[server.clone(), vec![revoked]].concat()).await.unwrap();

    let first = api.expect(Method::GET, "/audit?limit=2&kind=admin.change", None, 200).await;
    let actions = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(actions(&first), ["admin_token.create", "public_url.set"], "{first}");
    assert!(first["items"].as_array().unwrap().iter().all(|e| e["realm"].is_null()), "{first}");
    let next = first["next"].as_str().unwrap();
    let second = api.expect(Method::GET, &format!("/audit?limit=2&kind=admin.change&after={next}"), None, 200).await;
    assert_eq!(actions(&second), ["keys.rewrap"], "{second}");
    assert!(second["next"].is_null(), "{second}");
    let all = api.expect(Method::GET, "/audit", None, 200).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4, "realm.create of acme is acme's, not the server's: {all}");
    let recent = api.expect(Method::GET, &format!("/audit?since={}", now + 2), None, 200).await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 2, "{recent}");
    let bad = api.expect(Method::GET, "/audit?kind=nope", None, 400).await;
    assert!(bad["fields"]["kind"].is_string(), "{bad}");
    api.expect(Method::GET, "/audit?realm=acme", None, 400).await;

    let scoped = Api::token_for(&api.s, Some("acme")).await;
    let r = api.call_as(Some(&scoped), Method::GET, "/audit", None).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope", "{body}");
    assert_eq!(api.call_as(None, Method::GET, "/audit", None).await.status(), 401);
}
