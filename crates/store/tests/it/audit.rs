//! The audit log's rows: batches are stored whole, listed by realm in id order with
//! their filters and cursor, outlive their realm, and are purged by age.

use std::sync::Arc;

use portcullis_core::audit::{AuditKind, AuditQuery, AuditRecord};
use portcullis_core::store::Store;

use crate::fixtures::{self, NOW};

fn event(kind: AuditKind, realm: &str, at: i64) -> AuditRecord {
    AuditRecord { realm: Some(realm.to_owned()), ..server_event(kind, at) }
}

/// An event of no realm: the server's.
fn server_event(kind: AuditKind, at: i64) -> AuditRecord {
    AuditRecord {
        id: portcullis_core::token::new_token_id(),
        at,
        realm: None,
        kind,
        actor: None,
        client_id: None,
        subject: None,
        grant_type: None,
        action: None,
        target: None,
        address: None,
        request_id: None,
        detail: None,
    }
}

fn all(realm: &str) -> AuditQuery {
    AuditQuery { realm: Some(realm.to_owned()), since: None, kind: None, after: None, limit: 1000 }
}

pub async fn audit_events_round_trip_every_field_in_id_order(store: Arc<dyn Store>) {
    let full = AuditRecord {
        actor: Some("alice'; DROP TABLE audit_events; --".into()),
        client_id: Some("svc".into()),
        subject: Some("u-1".into()),
        grant_type: Some("password".into()),
        action: Some("password_grant".into()),
        target: Some("0190aa".into()),
        address: Some("2001:db8::1".into()),
        request_id: Some("00ab-0001".into()),
        detail: Some(r#"{"before":{"name":"ä\u0000"},"after":null}"#.into()),
        ..event(AuditKind::SignInSucceeded, "acme", NOW)
    };
    let bare = event(AuditKind::TokenIssued, "acme", NOW + 1);
    let elsewhere = event(AuditKind::TokenIssued, "other", NOW);
    store.insert_audit_events(&[full.clone(), elsewhere.clone()]).await.unwrap();
    store.insert_audit_events(std::slice::from_ref(&bare)).await.unwrap();
    store.insert_audit_events(&[]).await.unwrap();
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), [full, bare]);
    assert_eq!(store.list_audit_events(&all("other")).await.unwrap(), [elsewhere]);
    assert!(store.list_audit_events(&all("nowhere")).await.unwrap().is_empty());
}

pub async fn audit_listing_filters_by_kind_and_time_and_pages_by_cursor(store: Arc<dyn Store>) {
    let events: Vec<AuditRecord> = (0..10)
        .map(|i| {
            let kind = if i % 2 == 0 { AuditKind::SignInFailed } else { AuditKind::ClientAuthFailed };
            event(kind, "acme", NOW + i)
        })
        .collect();
    store.insert_audit_events(&events).await.unwrap();
    let q = |kind, since, after, limit| AuditQuery { realm: Some("acme".into()), since, kind, after, limit };
    let failed = store.list_audit_events(&q(Some(AuditKind::SignInFailed), None, None, 100)).await.unwrap();
    assert_eq!(failed, events.iter().step_by(2).cloned().collect::<Vec<_>>());
    let recent = store.list_audit_events(&q(None, Some(NOW + 7), None, 100)).await.unwrap();
    assert_eq!(recent, events[7..]);
    // Pages of three, each after the last of the one before: every event once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_audit_events(&q(None, None, after, 3)).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page);
    }
    assert_eq!(seen, events);
}

/// `realm: None` lists the events of no realm, with the same filters and cursor, and
/// never a realm's; a realm's listing never shows them.
pub async fn server_events_are_listed_apart_from_realms(store: Arc<dyn Store>) {
    let server: Vec<AuditRecord> = (0..6)
        .map(|i| {
            let kind = if i % 2 == 0 { AuditKind::AdminChange } else { AuditKind::TokenIssued };
            server_event(kind, NOW + i)
        })
        .collect();
    let realm = event(AuditKind::AdminChange, "acme", NOW);
    // A realm named like nothing still is a realm: only NULL is the server's.
    let empty_name = event(AuditKind::AdminChange, "", NOW);
    store.insert_audit_events(&[server[..3].to_vec(), vec![realm.clone(), empty_name]].concat()).await.unwrap();
    store.insert_audit_events(&server[3..]).await.unwrap();
    let q = |kind, since, after, limit| AuditQuery { realm: None, since, kind, after, limit };
    assert_eq!(store.list_audit_events(&q(None, None, None, 100)).await.unwrap(), server);
    let changes = store.list_audit_events(&q(Some(AuditKind::AdminChange), None, None, 100)).await.unwrap();
    assert_eq!(changes, server.iter().step_by(2).cloned().collect::<Vec<_>>());
    let recent = store.list_audit_events(&q(None, Some(NOW + 4), None, 100)).await.unwrap();
    assert_eq!(recent, server[4..]);
    let page = store.list_audit_events(&q(None, None, Some(server[1].id), 2)).await.unwrap();
    assert_eq!(page, server[2..4]);
    let later = store.list_audit_events(&q(Some(AuditKind::TokenIssued), None, Some(server[1].id), 1)).await.unwrap();
    assert_eq!(later, server[3..4]);
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), [realm]);
}

/// A batch with a row that cannot be stored (a duplicate id) stores nothing.
pub async fn an_audit_batch_is_stored_whole_or_not_at_all(store: Arc<dyn Store>) {
    let first = event(AuditKind::TokenRevoked, "acme", NOW);
    store.insert_audit_events(std::slice::from_ref(&first)).await.unwrap();
    let fresh = event(AuditKind::TokenRevoked, "acme", NOW);
    assert!(store.insert_audit_events(&[fresh, first.clone()]).await.is_err());
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), [first]);
}

/// A batch of 75 (SQLite inserts it as statements of 64, 8 and 1 rows): every row
/// lands with its own values in every column; and a bad row in the last statement
/// undoes the statements before it.
pub async fn a_large_audit_batch_is_stored_row_for_row_and_whole(store: Arc<dyn Store>) {
    let events: Vec<AuditRecord> = (0..75)
        .map(|i| AuditRecord {
            actor: (i % 3 == 0).then(|| format!("actor-{i}")),
            client_id: Some(format!("client-{i}")),
            subject: Some(format!("subject-{i}")),
            grant_type: (i % 2 == 0).then(|| "password".to_owned()),
            action: Some(format!("action-{i}")),
            target: Some(format!("target-{i}")),
            address: Some(format!("192.0.2.{i}")),
            request_id: Some(format!("request-{i}")),
            detail: (i % 5 == 0).then(|| format!("{{\"n\":{i}}}")),
            ..event(if i % 2 == 0 { AuditKind::SignInFailed } else { AuditKind::TokenIssued }, "acme", NOW + i)
        })
        .collect();
    store.insert_audit_events(&events).await.unwrap();
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), events);

    let mut batch: Vec<AuditRecord> = (0..74).map(|i| event(AuditKind::TokenIssued, "other", NOW + i)).collect();
    batch.push(events[0].clone());
    assert!(store.insert_audit_events(&batch).await.is_err(), "a duplicate id is refused");
    assert!(store.list_audit_events(&all("other")).await.unwrap().is_empty(), "the first 74 rows were kept");
}

/// No foreign key: the log of a realm outlives the realm.
pub async fn audit_events_outlive_their_realm(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let e = event(AuditKind::AdminChange, "acme", NOW);
    store.insert_audit_events(std::slice::from_ref(&e)).await.unwrap();
    store.delete_realm("acme").await.unwrap();
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), [e]);
}

pub async fn audit_purge_deletes_old_events_a_batch_at_a_time(store: Arc<dyn Store>) {
    let old: Vec<AuditRecord> = (0..5).map(|i| event(AuditKind::TokenIssued, "acme", NOW - 100 + i)).collect();
    let kept = event(AuditKind::TokenIssued, "acme", NOW);
    store.insert_audit_events(&old).await.unwrap();
    store.insert_audit_events(std::slice::from_ref(&kept)).await.unwrap();
    assert_eq!(store.purge_audit_events(NOW, 3).await.unwrap(), 3);
    assert_eq!(store.purge_audit_events(NOW, 3).await.unwrap(), 2);
    assert_eq!(store.purge_audit_events(NOW, 3).await.unwrap(), 0);
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap(), [kept]);
}

/// Batches written at once from many tasks all land (SQLite's writer thread and
/// PostgreSQL's statements each commit them).
pub async fn concurrent_audit_batches_all_land(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let batch: Vec<AuditRecord> =
                    (0..20).map(|i| event(AuditKind::TokenIssued, "acme", NOW + t * 100 + i)).collect();
                store.insert_audit_events(&batch).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.list_audit_events(&all("acme")).await.unwrap().len(), 320);
}
