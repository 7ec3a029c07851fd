//! Every change through the admin API reaches the audit hook once, after it succeeded,
//! with who, what, where and the request id; reads and refusals do not.

use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use super::Api;

type Events = Arc<Mutex<Vec<Vec<(String, String)>>>>;

struct Capture(Events);

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "audit" {
            let mut f = Fields(Vec::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }
}

pub(super) fn field<'a>(e: &'a [(String, String)], name: &str) -> &'a str {
    e.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// The audit events of the whole test binary, from a global subscriber installed once
/// (a thread-scoped one missed events when other tests ran alongside); each test
/// picks its own events by its admin token's id.
pub(super) fn audit_events() -> Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let events: Events = Arc::default();
            let subscriber = tracing_subscriber::registry().with(Capture(events.clone()));
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this binary");
            events
        })
        .clone()
}

#[tokio::test]
async fn every_change_is_audited_once_and_reads_are_not() {
    let events = audit_events();
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

    let events: Vec<_> = events.lock().unwrap().iter().filter(|e| field(e, "actor") == actor).cloned().collect();
    let actions: Vec<&str> = events.iter().map(|e| field(e, "action")).collect();
    assert_eq!(actions, ["client.create", "client.update", "keys.rotate", "client.delete", "realm.create"]);
    for e in &events {
        assert_eq!(field(e, "actor"), actor, "{e:?}");
        assert!(field(e, "request_id").len() > 2, "{e:?}");
    }
    assert_eq!(field(&events[0], "realm"), "default", "{:?}", events[0]);
    assert_eq!(field(&events[0], "target_id"), id, "{:?}", events[0]);
}
