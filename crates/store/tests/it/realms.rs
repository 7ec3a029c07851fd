use std::sync::Arc;

use portcullis_core::model::{Realm, RefreshPolicy, SigningAlg, TokenFormat};
use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

pub async fn realm_crud(store: Arc<dyn Store>) {
    assert_eq!(store.get_realm("acme").await.unwrap(), None);
    assert!(store.list_realms().await.unwrap().is_empty());

    let acme = fixtures::create_realm(&store, "acme").await;
    // The defaults, so that they round-trip too.
    let mut beta = Realm::new("beta", NOW);
    beta.refresh_ttl = None;
    store.create_realm(&beta, &fixtures::key("beta", "beta-k1", NOW)).await.unwrap();

    assert_eq!(store.get_realm("acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(store.get_realm("beta").await.unwrap(), Some(beta.clone()));
    assert_eq!(store.list_realms().await.unwrap(), [acme.clone(), beta.clone()]);

    let mut changed = acme.clone();
    changed.access_ttl = 60;
    changed.refresh_ttl = None;
    changed.token_format = TokenFormat::Opaque;
    changed.signing_alg = SigningAlg::Hs512;
    changed.refresh_policy = RefreshPolicy::Rotate;
    changed.refresh_grace = 0;
    changed.allow_implicit = false;
    changed.require_pkce = false;
    changed.allow_plain_pkce = false;
    changed.code_ttl = 5;
    changed.customer_ttl = 60;
    changed.created_at = NOW + 999; // must not be written
    changed.updated_at = NOW + 50;
    store.update_realm(&changed).await.unwrap();
    let expected = Realm { created_at: acme.created_at, ..changed };
    assert_eq!(store.get_realm("acme").await.unwrap(), Some(expected));

    store.delete_realm("acme").await.unwrap();
    assert_eq!(store.get_realm("acme").await.unwrap(), None);
    assert_eq!(store.list_realms().await.unwrap(), [beta]);
}

pub async fn duplicate_realm_is_conflict(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let (realm, key) = (fixtures::realm("acme"), fixtures::key("acme", "other", NOW));
    match store.create_realm(&realm, &key).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("realm"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The failed transaction left nothing behind.
    let keys = store.signing_keys("acme", NOW).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["acme-k1"]);
}

/// The realm and its first key are one transaction: a key that cannot be inserted
/// leaves no realm behind.
pub async fn create_realm_is_atomic(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let taken_kid = fixtures::key("beta", "acme-k1", NOW);
    match store.create_realm(&fixtures::realm("beta"), &taken_kid).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("kid"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get_realm("beta").await.unwrap(), None);

    let wrong_realm = fixtures::key("elsewhere", "beta-k1", NOW);
    assert!(store.create_realm(&fixtures::realm("beta"), &wrong_realm).await.is_err());
    assert_eq!(store.get_realm("beta").await.unwrap(), None);
}

pub async fn missing_realm_update_and_delete_are_not_found(store: Arc<dyn Store>) {
    assert!(matches!(store.update_realm(&fixtures::realm("ghost")).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_realm("ghost").await, Err(StoreError::NotFound)));
}

pub async fn deleting_a_realm_cascades_to_clients_keys_and_tokens(store: Arc<dyn Store>) {
    for realm in ["acme", "beta"] {
        fixtures::create_realm(&store, realm).await;
        fixtures::create_client(&store, realm, "web").await;
    }
    let acme_token = fixtures::insert_live_token(&store, "acme", "web").await;
    let beta_token = fixtures::insert_live_token(&store, "beta", "web").await;
    store.rotate_signing_key(&fixtures::key("acme", "acme-k2", NOW + 1), NOW + 1, NOW + 100).await.unwrap();

    store.delete_realm("acme").await.unwrap();

    assert_eq!(store.get_client("acme", "web").await.unwrap(), None);
    assert!(store.list_clients("acme").await.unwrap().is_empty());
    assert!(store.signing_keys("acme", NOW).await.unwrap().is_empty());
    assert_eq!(store.get_token(&acme_token).await.unwrap(), None);
    // The kids are free again: nothing of the realm is left.
    fixtures::create_realm(&store, "acme").await;

    assert!(store.get_client("beta", "web").await.unwrap().is_some());
    assert_eq!(store.signing_keys("beta", NOW).await.unwrap().len(), 1);
    assert!(store.get_token(&beta_token).await.unwrap().is_some());
}
