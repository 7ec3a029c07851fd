use std::sync::Arc;

use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

fn kids(keys: &[portcullis_core::model::SigningKeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

pub async fn rotate_signing_key_retires_old_key_until_verify_until(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let first = store.signing_keys("acme", NOW).await.unwrap();
    assert_eq!(first, [fixtures::key("acme", "acme-k1", NOW)]);

    let (rotated_at, verify_until) = (NOW + 100, NOW + 200);
    let k2 = fixtures::key("acme", "acme-k2", rotated_at);
    store.rotate_signing_key(&k2, rotated_at, verify_until).await.unwrap();

    let keys = store.signing_keys("acme", rotated_at).await.unwrap();
    assert_eq!(kids(&keys), ["acme-k2", "acme-k1"], "newest first");
    assert_eq!(keys[0], k2);
    assert_eq!(keys[1].retired_at, Some(rotated_at));
    assert_eq!(keys[1].verify_until, Some(verify_until));

    assert_eq!(kids(&store.signing_keys("acme", verify_until - 1).await.unwrap()), ["acme-k2", "acme-k1"]);
    // `verify_until` is the first instant at which the key no longer verifies.
    assert_eq!(kids(&store.signing_keys("acme", verify_until).await.unwrap()), ["acme-k2"]);
    assert_eq!(kids(&store.signing_keys("acme", verify_until + 1).await.unwrap()), ["acme-k2"]);
    // Other realms are not touched.
    assert!(store.signing_keys("beta", rotated_at).await.unwrap().is_empty());
}

/// A rotation retires only the keys still signing: a key retired earlier keeps its
/// own `retired_at` and `verify_until`.
pub async fn rotation_leaves_retired_keys_alone(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    store.rotate_signing_key(&fixtures::key("acme", "acme-k2", NOW + 10), NOW + 10, NOW + 100).await.unwrap();
    store.rotate_signing_key(&fixtures::key("acme", "acme-k3", NOW + 20), NOW + 20, NOW + 500).await.unwrap();
    let keys = store.signing_keys("acme", NOW + 20).await.unwrap();
    assert_eq!(kids(&keys), ["acme-k3", "acme-k2", "acme-k1"]);
    assert_eq!((keys[0].retired_at, keys[0].verify_until), (None, None));
    assert_eq!((keys[1].retired_at, keys[1].verify_until), (Some(NOW + 20), Some(NOW + 500)));
    assert_eq!((keys[2].retired_at, keys[2].verify_until), (Some(NOW + 10), Some(NOW + 100)));
    assert_eq!(kids(&store.signing_keys("beta", NOW + 20).await.unwrap()), ["beta-k1"]);
}

/// A signing key that already has an end of life keeps the sooner of it and the
/// rotation's `verify_until`.
pub async fn rotation_never_extends_verify_until(store: Arc<dyn Store>) {
    let mut short_lived = fixtures::key("acme", "acme-k1", NOW);
    short_lived.verify_until = Some(NOW + 50);
    store.create_realm(&fixtures::realm("acme"), &short_lived).await.unwrap();
    store.rotate_signing_key(&fixtures::key("acme", "acme-k2", NOW + 10), NOW + 10, NOW + 100).await.unwrap();
    let keys = store.signing_keys("acme", NOW + 10).await.unwrap();
    assert_eq!(kids(&keys), ["acme-k2", "acme-k1"]);
    assert_eq!((keys[1].retired_at, keys[1].verify_until), (Some(NOW + 10), Some(NOW + 50)));

    let mut long_lived = fixtures::key("beta", "beta-k1", NOW);
    long_lived.verify_until = Some(NOW + 1000);
    store.create_realm(&fixtures::realm("beta"), &long_lived).await.unwrap();
    store.rotate_signing_key(&fixtures::key("beta", "beta-k2", NOW + 10), NOW + 10, NOW + 100).await.unwrap();
    let keys = store.signing_keys("beta", NOW + 10).await.unwrap();
    assert_eq!((keys[1].retired_at, keys[1].verify_until), (Some(NOW + 10), Some(NOW + 100)));
}

pub async fn rotating_in_a_missing_realm_is_not_found(store: Arc<dyn Store>) {
    let key = fixtures::key("ghost", "ghost-k2", NOW);
    assert!(matches!(store.rotate_signing_key(&key, NOW, NOW + 10).await, Err(StoreError::NotFound)));
}

/// Concurrent listings of several realms at several instants (on PostgreSQL they are
/// read in one statement per batch of callers): each caller gets its own realm's keys
/// that still verify at its own instant, newest first.
pub async fn concurrent_key_listings_get_their_own_realm_at_their_own_instant(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    store.rotate_signing_key(&fixtures::key("acme", "acme-k2", NOW + 10), NOW + 10, NOW + 100).await.unwrap();
    let listings: Vec<_> = (0..64)
        .map(|n| {
            let store = store.clone();
            let (realm, at) = (if n % 2 == 0 { "acme" } else { "beta" }, if n % 4 < 2 { NOW + 50 } else { NOW + 150 });
            tokio::spawn(async move { (realm, at, store.signing_keys(realm, at).await.unwrap()) })
        })
        .collect();
    for listing in listings {
        let (realm, at, keys) = listing.await.unwrap();
        let expected: &[&str] = match (realm, at) {
            ("acme", at) if at < NOW + 100 => &["acme-k2", "acme-k1"],
            ("acme", _) => &["acme-k2"],
            _ => &["beta-k1"],
        };
        assert_eq!(kids(&keys), expected, "{realm} at {at}");
    }
}
