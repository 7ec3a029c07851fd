//! Connecting, migrations, settings, and what the SQL layer must not mangle.

use std::sync::Arc;

use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};
use crate::harness;

pub async fn migrations_are_idempotent(url: String) {
    let first = harness::open(&url).await;
    fixtures::create_realm(&first, "acme").await;
    let pepper = first.pepper(b"pepper-1").await.unwrap();
    drop(first);

    let second = harness::open(&url).await;
    assert!(second.get_realm("acme").await.unwrap().is_some());
    assert_eq!(second.pepper(b"pepper-2").await.unwrap(), pepper);
    drop(second);

    // A third time, while the second store's connections may still be closing.
    let third = harness::open(&url).await;
    assert_eq!(third.list_realms().await.unwrap().len(), 1);
}

/// Two instances starting together on an empty database (the server and the CLI,
/// say) must not both try to create the schema.
pub async fn concurrent_connects_migrate_once(url: String) {
    let (a, b) = tokio::join!(harness::open(&url), harness::open(&url));
    fixtures::create_realm(&a, "acme").await;
    assert!(b.get_realm("acme").await.unwrap().is_some());
}

pub async fn pepper_is_kept_on_first_write(store: Arc<dyn Store>) {
    assert_eq!(store.pepper(b"first").await.unwrap(), b"first");
    assert_eq!(store.pepper(b"second").await.unwrap(), b"first");
    let binary = [0u8, 255, 0, 1];
    assert_eq!(store.pepper(&binary).await.unwrap(), b"first");
}

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

/// SQL injection attempts, emoji and NUL in a client name come back as they went in,
/// and find the client by name. PostgreSQL cannot hold NUL in TEXT: there it must be
/// an error, not a panic and not a silently altered name.
pub async fn hostile_strings_round_trip(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let name = "Robert'); DROP TABLE clients; -- ' OR 1=1 -- \u{1f980} \"x\" \\ %_";
    let c = fixtures::client("acme", "hostile", name);
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("acme", "hostile").await.unwrap().unwrap(), c);
    assert_eq!(store.find_client("acme", name).await.unwrap().unwrap(), c);
    assert_eq!(store.list_clients("acme").await.unwrap(), std::slice::from_ref(&c));
    // The injection did not widen the lookup.
    assert_eq!(store.find_client("acme", "x' OR 1=1 --").await.unwrap(), None);

    let with_nul = fixtures::client("acme", "nul", "a\0b' OR 1=1 -- \u{1f600}");
    match (store.backend(), store.create_client(&with_nul).await) {
        ("sqlite", Ok(())) => {
            assert_eq!(store.get_client("acme", "nul").await.unwrap().unwrap(), with_nul);
            assert_eq!(store.find_client("acme", &with_nul.name).await.unwrap().unwrap(), with_nul);
        }
        ("postgres", Err(StoreError::Backend(_))) => {
            assert_eq!(store.get_client("acme", "nul").await.unwrap(), None);
        }
        (backend, other) => panic!("{backend}: NUL in a name gave {other:?}"),
    }
}

/// A comma is a legal character in a redirect URI and in a scope token, and must not
/// split an item in two; an item that could not come back intact is refused.
pub async fn list_items_round_trip_exactly(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let mut c = fixtures::client("acme", "commas", "commas");
    c.redirect_uris = vec!["https://app.example/cb?a=1,2&b=%20".to_owned()];
    c.scopes = vec!["a,b".to_owned(), "c".to_owned()];
    c.grant_types = vec![];
    c.default_scopes = vec![];
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("acme", "commas").await.unwrap().unwrap(), c);

    let mut bad = fixtures::client("acme", "bad", "bad");
    bad.redirect_uris = vec!["https://a.example/\nhttps://evil.example/".to_owned()];
    assert!(matches!(store.create_client(&bad).await, Err(StoreError::Backend(_))));
    bad.redirect_uris = vec![];
    bad.scopes = vec!["two words".to_owned()];
    assert!(matches!(store.create_client(&bad).await, Err(StoreError::Backend(_))));
    assert_eq!(store.get_client("acme", "bad").await.unwrap(), None);

    let mut t = fixtures::bare_token("acme", "commas");
    t.permissions = vec!["x y".to_owned()];
    assert!(matches!(store.insert_token(&t).await, Err(StoreError::Backend(_))));
    t.permissions = vec!["x,y".to_owned()];
    t.issued_at = NOW;
    store.insert_token(&t).await.unwrap();
    assert_eq!(store.get_token(&t.id).await.unwrap().unwrap().record, t);
}
