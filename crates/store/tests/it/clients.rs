use std::sync::Arc;

use portcullis_core::model::{AuthMethod, Client, GrantType};
use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

pub async fn client_crud(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    assert_eq!(store.get_client("acme", "web").await.unwrap(), None);
    assert_eq!(store.find_client("acme", "web").await.unwrap(), None);

    let web = fixtures::client("acme", "web", "Web app");
    let mut cli = fixtures::client("acme", "cli", "Command line");
    cli.secret_hash = None;
    cli.auth_method = AuthMethod::None;
    cli.grant_types = vec![GrantType::DeviceCode];
    cli.redirect_uris = vec![];
    cli.scopes = vec![];
    cli.default_scopes = vec![];
    cli.access_ttl = None;
    cli.refresh_ttl = Some(60);
    cli.resource_server = false;
    cli.disabled = true;
    store.create_client(&web).await.unwrap();
    store.create_client(&cli).await.unwrap();

    assert_eq!(store.get_client("acme", "web").await.unwrap(), Some(web.clone()));
    assert_eq!(store.get_client("acme", "cli").await.unwrap(), Some(cli.clone()));
    assert_eq!(store.find_client("acme", "web").await.unwrap(), Some(web.clone()));
    assert_eq!(store.find_client("acme", "Web app").await.unwrap(), Some(web.clone()));
    assert_eq!(store.find_client("acme", "web app").await.unwrap(), None, "exact match");
    assert_eq!(store.list_clients("acme").await.unwrap(), [cli.clone(), web.clone()]);

    // Every mutable field changes; realm, client_id and created_at are the key and
    // history.
    let changed = Client {
        name: "Web app v2".to_owned(),
        secret_hash: None,
        auth_method: AuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::ClientCredentials, GrantType::TokenExchange],
        redirect_uris: vec!["https://v2.example/cb".to_owned()],
        scopes: vec!["admin".to_owned()],
        default_scopes: vec![],
        access_ttl: None,
        refresh_ttl: Some(7),
        resource_server: false,
        disabled: true,
        created_at: NOW + 999,
        updated_at: NOW + 100,
        ..web.clone()
    };
    store.update_client(&changed).await.unwrap();
    // Every change bumps the revision (what cached copies are checked against).
    let expected = Client { created_at: web.created_at, revision: web.revision + 1, ..changed.clone() };
    assert_eq!(store.get_client("acme", "web").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_client("acme", "Web app v2").await.unwrap(), Some(expected));
    assert_eq!(store.find_client("acme", "Web app").await.unwrap(), None);

    store.delete_client("acme", "web").await.unwrap();
    assert_eq!(store.get_client("acme", "web").await.unwrap(), None);
    assert_eq!(store.list_clients("acme").await.unwrap(), [cli]);
}

pub async fn duplicate_client_is_conflict_within_realm_only(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    store.create_client(&fixtures::client("acme", "web", "Web")).await.unwrap();

    match store.create_client(&fixtures::client("acme", "other", "Web")).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("name"), "{what}"),
        other => panic!("expected a name conflict, got {other:?}"),
    }
    match store.create_client(&fixtures::client("acme", "web", "Other")).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("client_id"), "{what}"),
        other => panic!("expected an id conflict, got {other:?}"),
    }
    // Renaming onto a taken name is a conflict too.
    store.create_client(&fixtures::client("acme", "api", "API")).await.unwrap();
    let renamed = Client { name: "Web".to_owned(), ..fixtures::client("acme", "api", "API") };
    assert!(matches!(store.update_client(&renamed).await, Err(StoreError::Conflict(_))));

    // Names and ids are per realm.
    store.create_client(&fixtures::client("beta", "web", "Web")).await.unwrap();
    store.create_client(&fixtures::client("beta", "other", "Other")).await.unwrap();
    assert_eq!(store.list_clients("acme").await.unwrap().len(), 2);
    assert_eq!(store.list_clients("beta").await.unwrap().len(), 2);
}

pub async fn client_is_invisible_from_another_realm(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    let web = fixtures::create_client(&store, "acme", "web").await;

    assert_eq!(store.get_client("beta", "web").await.unwrap(), None);
    assert_eq!(store.find_client("beta", "web").await.unwrap(), None);
    assert_eq!(store.find_client("beta", &web.name).await.unwrap(), None);
    assert!(store.list_clients("beta").await.unwrap().is_empty());

    let from_beta = Client { realm: "beta".to_owned(), ..web.clone() };
    assert!(matches!(store.update_client(&from_beta).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_client("beta", "web").await, Err(StoreError::NotFound)));
    assert!(matches!(store.rotate_client_secret("beta", "web", b"x", Some(NOW)).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_client("acme", "web").await.unwrap(), Some(web));
}

/// Another client may be named like this one's id: the id wins.
pub async fn find_client_prefers_id_over_name(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let by_name = fixtures::client("acme", "zzz", "alpha");
    let by_id = fixtures::client("acme", "alpha", "something else");
    store.create_client(&by_name).await.unwrap();
    store.create_client(&by_id).await.unwrap();
    assert_eq!(store.find_client("acme", "alpha").await.unwrap(), Some(by_id));
    assert_eq!(store.find_client("acme", "zzz").await.unwrap(), Some(by_name));
}

pub async fn missing_client_update_delete_and_rotate_are_not_found(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let ghost = fixtures::client("acme", "ghost", "Ghost");
    assert!(matches!(store.update_client(&ghost).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_client("acme", "ghost").await, Err(StoreError::NotFound)));
    assert!(matches!(store.rotate_client_secret("acme", "ghost", b"hash", None).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.rotate_client_secret("nowhere", "ghost", b"hash", Some(NOW)).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn deleting_a_client_removes_its_tokens(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "api").await;
    let web_tokens = [
        fixtures::insert_live_token(&store, "acme", "web").await,
        fixtures::insert_live_token(&store, "acme", "web").await,
    ];
    let api_token = fixtures::insert_live_token(&store, "acme", "api").await;

    store.delete_client("acme", "web").await.unwrap();
    for id in &web_tokens {
        assert_eq!(store.get_token(id).await.unwrap(), None);
        assert!(!store.revoke_token(id, NOW).await.unwrap());
    }
    assert!(store.get_token(&api_token).await.unwrap().is_some());

    // A client created again under the same id does not inherit the old tokens.
    fixtures::create_client(&store, "acme", "web").await;
    assert_eq!(store.get_token(&web_tokens[0]).await.unwrap(), None);
}

pub async fn rotate_client_secret_keeps_tokens_when_not_asked(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let token = fixtures::insert_live_token(&store, "acme", "web").await;

    store.rotate_client_secret("acme", "web", &[7; 32], None).await.unwrap();

    let stored = store.get_client("acme", "web").await.unwrap().unwrap();
    assert_eq!(stored, Client { secret_hash: Some(vec![7; 32]), revision: web.revision + 1, ..web });
    assert_eq!(store.get_token(&token).await.unwrap().unwrap().record.revoked_at, None);
}

pub async fn rotate_client_secret_revokes_live_tokens(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "api").await;
    fixtures::create_client(&store, "beta", "web").await;
    let live = [
        fixtures::insert_live_token(&store, "acme", "web").await,
        fixtures::insert_live_token(&store, "acme", "web").await,
    ];
    let already_revoked = fixtures::insert_live_token(&store, "acme", "web").await;
    assert!(store.revoke_token(&already_revoked, NOW + 1).await.unwrap());
    let other_client = fixtures::insert_live_token(&store, "acme", "api").await;
    let other_realm = fixtures::insert_live_token(&store, "beta", "web").await;

    store.rotate_client_secret("acme", "web", &[9; 32], Some(NOW + 5)).await.unwrap();

    let stored = store.get_client("acme", "web").await.unwrap().unwrap();
    assert_eq!(stored, Client { secret_hash: Some(vec![9; 32]), revision: web.revision + 1, ..web });
    let revoked_at = async |id| store.get_token(&id).await.unwrap().unwrap().record.revoked_at;
    for id in live {
        assert_eq!(revoked_at(id).await, Some(NOW + 5));
    }
    assert_eq!(revoked_at(already_revoked).await, Some(NOW + 1), "first revocation stands");
    assert_eq!(revoked_at(other_client).await, None);
    assert_eq!(revoked_at(other_realm).await, None);
}
