use std::sync::Arc;

use portcullis_core::admin_token::AdminTokenRecord;
use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

fn admin_token(realm: Option<&str>) -> AdminTokenRecord {
    AdminTokenRecord {
        id: fixtures::new_id(),
        realm: realm.map(str::to_owned),
        verifier_hash: fixtures::new_hash(),
        created_at: NOW,
        revoked_at: None,
    }
}

pub async fn admin_token_round_trips_and_lists_in_creation_order(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let everywhere = admin_token(None);
    let scoped = admin_token(Some("acme"));
    store.create_admin_token(&everywhere).await.unwrap();
    store.create_admin_token(&scoped).await.unwrap();
    assert_eq!(store.get_admin_token(&everywhere.id).await.unwrap(), Some(everywhere.clone()));
    assert_eq!(store.get_admin_token(&scoped.id).await.unwrap(), Some(scoped.clone()));
    assert_eq!(store.get_admin_token(&fixtures::new_id()).await.unwrap(), None);
    assert_eq!(store.list_admin_tokens().await.unwrap(), [everywhere, scoped]);
}

pub async fn duplicate_admin_token_id_is_conflict(store: Arc<dyn Store>) {
    let t = admin_token(None);
    store.create_admin_token(&t).await.unwrap();
    let again = AdminTokenRecord { verifier_hash: fixtures::new_hash(), ..t.clone() };
    assert!(matches!(store.create_admin_token(&again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.list_admin_tokens().await.unwrap(), [t]);
}

pub async fn admin_token_of_a_missing_realm_is_refused(store: Arc<dyn Store>) {
    assert!(store.create_admin_token(&admin_token(Some("nowhere"))).await.is_err());
    assert!(store.list_admin_tokens().await.unwrap().is_empty());
}

pub async fn revoke_admin_token_returns_true_once(store: Arc<dyn Store>) {
    let t = admin_token(None);
    store.create_admin_token(&t).await.unwrap();
    assert!(store.revoke_admin_token(&t.id, NOW + 5).await.unwrap());
    assert!(!store.revoke_admin_token(&t.id, NOW + 9).await.unwrap());
    assert!(!store.revoke_admin_token(&fixtures::new_id(), NOW).await.unwrap());
    assert_eq!(store.get_admin_token(&t.id).await.unwrap().unwrap().revoked_at, Some(NOW + 5));
}

pub async fn deleting_a_realm_removes_its_admin_tokens(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    let (acme, beta, all) = (admin_token(Some("acme")), admin_token(Some("beta")), admin_token(None));
    for t in [&acme, &beta, &all] {
        store.create_admin_token(t).await.unwrap();
    }
    store.delete_realm("acme").await.unwrap();
    assert_eq!(store.get_admin_token(&acme.id).await.unwrap(), None);
    assert_eq!(store.list_admin_tokens().await.unwrap(), [beta, all]);
}
