//! Apps, API keys, permissions and roles (the organization model).

use std::sync::Arc;

use portcullis_core::model::{AuthMethod, Client, GrantType, TokenKind};
use portcullis_core::org::{ApiKey, App, MAX_PERMISSIONS};
use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

fn app_client(realm: &str, app_id: &str, name: &str) -> Client {
    Client {
        secret_hash: None,
        auth_method: AuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        redirect_uris: vec![],
        scopes: vec![],
        default_scopes: vec![],
        resource_server: false,
        ..fixtures::client(realm, app_id, name)
    }
}

async fn create_app(store: &Arc<dyn Store>, realm: &str, app_id: &str, name: &str) -> App {
    let app = App { realm: realm.into(), app_id: app_id.into(), name: name.into(), created_at: NOW, reset_at: None };
    store.create_app(&app, &app_client(realm, app_id, name)).await.unwrap();
    app
}

fn key(realm: &str, app_id: &str) -> ApiKey {
    ApiKey {
        id: fixtures::new_id(),
        realm: realm.into(),
        app_id: app_id.into(),
        name: "server".into(),
        verifier_hash: fixtures::new_hash(),
        scope: "orders catalog".into(),
        permissions: vec!["orders.read".into(), "orders.write".into()],
        test: true,
        created_at: NOW,
        last_used_at: None,
        revoked_at: None,
    }
}

pub async fn app_and_key_round_trip(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let app = create_app(&store, "acme", "app-1", "storefront").await;
    assert_eq!(store.find_app("acme", "app-1").await.unwrap(), Some(app.clone()));
    assert_eq!(store.find_app("acme", "storefront").await.unwrap(), Some(app.clone()));
    assert_eq!(store.find_app("other", "app-1").await.unwrap(), None);
    assert_eq!(store.list_apps("acme").await.unwrap(), vec![app.clone()]);
    assert!(store.get_client("acme", "app-1").await.unwrap().is_some(), "an app is a client");

    let k = key("acme", "app-1");
    store.create_api_key(&k).await.unwrap();
    let stored = store.get_api_key(&k.id).await.unwrap().unwrap();
    assert_eq!(stored.key, k);
    assert!(!stored.app_disabled && stored.standing("acme") && !stored.standing("other"));
    assert_eq!(store.list_api_keys("acme", None).await.unwrap(), vec![k.clone()]);
    assert_eq!(store.list_api_keys("acme", Some("app-1")).await.unwrap(), vec![k.clone()]);
    assert!(store.list_api_keys("acme", Some("app-2")).await.unwrap().is_empty());

    let orphan = key("acme", "no-such-app");
    assert!(matches!(store.create_api_key(&orphan).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.create_app(&app, &app_client("acme", "app-9", "storefront")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_apps("acme").await.unwrap().len(), 1, "a refused app writes nothing");
}

/// Concurrent reads of many keys (one batch on PostgreSQL) each get their own key,
/// with its own app's state, and an unknown id gets nothing.
pub async fn concurrent_key_reads_each_get_their_own_key(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    create_app(&store, "acme", "app-2", "warehouse").await;
    let mut keys = Vec::new();
    for i in 0..40 {
        let k = ApiKey { name: format!("key-{i}"), ..key("acme", if i % 2 == 0 { "app-1" } else { "app-2" }) };
        store.create_api_key(&k).await.unwrap();
        keys.push(k);
    }
    let mut disabled = store.get_client("acme", "app-2").await.unwrap().unwrap();
    disabled.disabled = true;
    store.update_client(&disabled).await.unwrap();
    let unknown = fixtures::new_id();
    // All spawned before any is awaited, so they are read concurrently.
    let reads: Vec<_> = keys
        .iter()
        .map(|k| k.id)
        .chain([unknown])
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move { store.get_api_key(&id).await.unwrap() })
        })
        .collect();
    let mut found = Vec::new();
    for read in reads {
        found.push(read.await.unwrap());
    }
    for (k, stored) in keys.iter().zip(&found) {
        let stored = stored.as_ref().unwrap_or_else(|| panic!("{} not found", k.name));
        assert_eq!(&stored.key, k);
        assert_eq!(stored.app_disabled, k.app_id == "app-2", "{}", k.name);
    }
    assert!(found.last().unwrap().is_none(), "the unknown id");
}

pub async fn reset_revokes_exactly_the_apps_keys_and_grants(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    create_app(&store, "acme", "app-2", "backoffice").await;
    let (k1, k2, other) = (key("acme", "app-1"), key("acme", "app-1"), key("acme", "app-2"));
    for k in [&k1, &k2, &other] {
        store.create_api_key(k).await.unwrap();
    }
    let grant = fixtures::grant("acme", "app-1", "customer-1");
    let mut token = fixtures::grant_token(&grant);
    token.kind = TokenKind::Customer;
    store.create_customer_grant(&grant, &k1.id, std::slice::from_ref(&token)).await.unwrap();
    let stored = store.get_token(&token.id).await.unwrap().unwrap();
    assert!(!stored.grant_revoked);
    assert_eq!(stored.teams, grant.teams, "a token reads its grant's teams");

    assert_eq!(store.reset_app("acme", "app-1", NOW + 5).await.unwrap(), 2);
    for k in [&k1, &k2] {
        assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key.revoked_at, Some(NOW + 5));
    }
    assert_eq!(store.get_api_key(&other.id).await.unwrap().unwrap().key.revoked_at, None);
    assert!(store.get_token(&token.id).await.unwrap().unwrap().grant_revoked, "customer tokens die with the keys");
    assert_eq!(store.find_app("acme", "app-1").await.unwrap().unwrap().reset_at, Some(NOW + 5));
    assert_eq!(store.reset_app("acme", "app-1", NOW + 6).await.unwrap(), 0);
    assert!(matches!(store.reset_app("acme", "nope", NOW).await, Err(StoreError::NotFound)));
}

pub async fn revoking_a_key_revokes_its_customer_grants_only(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    let (k1, k2) = (key("acme", "app-1"), key("acme", "app-1"));
    store.create_api_key(&k1).await.unwrap();
    store.create_api_key(&k2).await.unwrap();
    let g1 = fixtures::grant("acme", "app-1", "c1");
    let g2 = fixtures::grant("acme", "app-1", "c2");
    store.create_customer_grant(&g1, &k1.id, &[]).await.unwrap();
    store.create_customer_grant(&g2, &k2.id, &[]).await.unwrap();

    assert!(!store.revoke_api_key("other", &k1.id, NOW).await.unwrap(), "another realm's key");
    assert!(store.revoke_api_key("acme", &k1.id, NOW + 1).await.unwrap());
    assert!(!store.revoke_api_key("acme", &k1.id, NOW + 2).await.unwrap());
    assert_eq!(store.get_grant(&g1.id).await.unwrap().unwrap().revoked_at, Some(NOW + 1));
    assert_eq!(store.get_grant(&g2.id).await.unwrap().unwrap().revoked_at, None);
}

pub async fn last_use_is_recorded_and_never_moves_back(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    let k = key("acme", "app-1");
    store.create_api_key(&k).await.unwrap();
    store.touch_api_keys(&[(k.id, NOW + 10), (fixtures::new_id(), NOW)]).await.unwrap();
    assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key.last_used_at, Some(NOW + 10));
    store.touch_api_keys(&[(k.id, NOW + 5)]).await.unwrap();
    assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key.last_used_at, Some(NOW + 10));
    store.touch_api_keys(&[]).await.unwrap();
}

pub async fn deleting_an_app_removes_its_client_keys_and_tokens(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    let k = key("acme", "app-1");
    store.create_api_key(&k).await.unwrap();
    let grant = fixtures::grant("acme", "app-1", "c1");
    let token = fixtures::grant_token(&grant);
    store.create_customer_grant(&grant, &k.id, std::slice::from_ref(&token)).await.unwrap();
    fixtures::create_client(&store, "acme", "plain").await;
    assert!(matches!(store.delete_app("acme", "plain").await, Err(StoreError::NotFound)), "not an app");

    store.delete_app("acme", "app-1").await.unwrap();
    assert!(store.find_app("acme", "app-1").await.unwrap().is_none());
    assert!(store.get_client("acme", "app-1").await.unwrap().is_none());
    assert!(store.get_api_key(&k.id).await.unwrap().is_none());
    assert!(store.get_token(&token.id).await.unwrap().is_none());
    assert!(matches!(store.delete_app("acme", "app-1").await, Err(StoreError::NotFound)));
}

pub async fn permissions_take_the_lowest_free_bit(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "other").await;
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(store.create_permission("acme", name, NOW).await.unwrap().bit, i as u32);
    }
    assert_eq!(store.create_permission("other", "x", NOW).await.unwrap().bit, 0, "bits are per realm");
    assert!(matches!(store.create_permission("acme", "b", NOW).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.create_permission("nope", "a", NOW).await, Err(StoreError::NotFound)));
    store.delete_permission("acme", "b").await.unwrap();
    assert_eq!(store.create_permission("acme", "d", NOW).await.unwrap().bit, 1, "a freed bit is reused");
    assert_eq!(store.create_permission("acme", "e", NOW).await.unwrap().bit, 3);
    let listed: Vec<(String, u32)> =
        store.list_permissions("acme").await.unwrap().into_iter().map(|p| (p.name, p.bit)).collect();
    let expected = [("a", 0), ("d", 1), ("c", 2), ("e", 3)].map(|(n, b)| (n.to_owned(), b));
    assert_eq!(listed, expected);
    assert!(matches!(store.delete_permission("acme", "b").await, Err(StoreError::NotFound)));
}

/// Concurrent listings of several realms' permissions (one batch on PostgreSQL) each
/// get exactly their own realm's, in bit order; a realm without any, or unknown, none.
pub async fn concurrent_permission_listings_each_get_their_realms(store: Arc<dyn Store>) {
    for realm in ["acme", "other", "bare"] {
        fixtures::create_realm(&store, realm).await;
    }
    // Created so that bit order and name order differ.
    for name in ["zeta", "alpha", "mid"] {
        store.create_permission("acme", name, NOW).await.unwrap();
    }
    store.create_permission("other", "x", NOW).await.unwrap();
    let expected = |realm: &str| -> Vec<(String, u32)> {
        let named: &[(&str, u32)] = match realm {
            "acme" => &[("zeta", 0), ("alpha", 1), ("mid", 2)],
            "other" => &[("x", 0)],
            _ => &[],
        };
        named.iter().map(|(n, b)| ((*n).to_owned(), *b)).collect()
    };
    let realms = ["acme", "other", "bare", "nope"];
    // All spawned before any is awaited, so they are listed concurrently.
    let listings: Vec<_> = (0..48)
        .map(|i| {
            let (store, realm) = (store.clone(), realms[i % realms.len()]);
            tokio::spawn(async move { (realm, store.list_permissions(realm).await.unwrap()) })
        })
        .collect();
    for listing in listings {
        let (realm, listed) = listing.await.unwrap();
        assert!(listed.iter().all(|p| p.realm == realm), "{realm}: {listed:?}");
        let listed: Vec<(String, u32)> = listed.into_iter().map(|p| (p.name, p.bit)).collect();
        assert_eq!(listed, expected(realm), "{realm}");
    }
}

pub async fn a_realm_holds_at_least_64_permissions_and_concurrent_creations_differ(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..70 {
        let store = store.clone();
        tasks.spawn(async move { store.create_permission("acme", &format!("p{i}"), NOW).await.unwrap().bit });
    }
    let mut bits: Vec<u32> = tasks.join_all().await;
    bits.sort_unstable();
    assert_eq!(bits, (0..70).collect::<Vec<_>>());
    const { assert!(MAX_PERMISSIONS >= 64) };
}

pub async fn roles_map_to_existing_permissions(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    for p in ["orders.read", "orders.write", "admin"] {
        store.create_permission("acme", p, NOW).await.unwrap();
    }
    let perms = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    store.set_role_permissions("acme", "buyer", &perms(&["orders.read", "orders.write", "orders.read"])).await.unwrap();
    store.set_role_permissions("acme", "viewer", &perms(&["orders.read"])).await.unwrap();
    assert!(matches!(
        store.set_role_permissions("acme", "viewer", &perms(&["admin", "nope"])).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.list_role_permissions("acme").await.unwrap(),
        vec![
            ("buyer".to_owned(), perms(&["orders.read", "orders.write"])),
            ("viewer".to_owned(), perms(&["orders.read"]))
        ],
        "a refused change changes nothing"
    );
    assert_eq!(
        store.permissions_of_roles("acme", &perms(&["viewer", "buyer", "ghost"])).await.unwrap(),
        perms(&["orders.read", "orders.write"])
    );
    store.delete_permission("acme", "orders.write").await.unwrap();
    assert_eq!(store.permissions_of_roles("acme", &perms(&["buyer"])).await.unwrap(), perms(&["orders.read"]));
    store.set_role_permissions("acme", "buyer", &[]).await.unwrap();
    assert_eq!(store.list_role_permissions("acme").await.unwrap().len(), 1);
}

pub async fn an_app_is_renamed_through_its_client(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "other").await;
    create_app(&store, "acme", "app-1", "storefront").await;
    create_app(&store, "acme", "app-2", "backoffice").await;
    fixtures::create_client(&store, "acme", "plain").await;
    let revision = store.get_client("acme", "app-1").await.unwrap().unwrap().revision;

    store.update_app("acme", "app-1", "shop", NOW + 1).await.unwrap();
    let app = store.find_app("acme", "shop").await.unwrap().unwrap();
    assert_eq!((app.app_id.as_str(), app.name.as_str(), app.created_at), ("app-1", "shop", NOW));
    assert_eq!(store.find_app("acme", "storefront").await.unwrap(), None);
    let client = store.get_client("acme", "app-1").await.unwrap().unwrap();
    assert_eq!((client.name.as_str(), client.updated_at), ("shop", NOW + 1));
    assert!(client.revision > revision, "a cached copy of the app's client must be read again");

    assert!(matches!(store.update_app("acme", "app-1", "backoffice", NOW).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.update_app("acme", "ghost", "x", NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(store.update_app("other", "app-1", "x", NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(store.update_app("acme", "plain", "x", NOW).await, Err(StoreError::NotFound)), "not an app");
    let names: Vec<String> = store.list_apps("acme").await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["backoffice", "shop"], "a refused rename changes nothing");
    assert_ne!(store.get_client("acme", "plain").await.unwrap().unwrap().name, "x");
}

pub async fn a_live_keys_name_scope_and_permissions_change_and_nothing_else(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    for p in ["orders.read", "orders.write", "admin"] {
        store.create_permission("acme", p, NOW).await.unwrap();
    }
    create_app(&store, "acme", "app-1", "storefront").await;
    create_app(&store, "acme", "app-2", "backoffice").await;
    let (k, sibling) = (key("acme", "app-1"), key("acme", "app-1"));
    store.create_api_key(&k).await.unwrap();
    store.create_api_key(&sibling).await.unwrap();

    let changed = ApiKey {
        name: "renamed".into(),
        scope: "orders".into(),
        permissions: vec!["admin".into(), "orders.read".into()],
        ..k.clone()
    };
    assert!(store.update_api_key(&changed).await.unwrap());
    assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key, changed);
    assert_eq!(store.get_api_key(&sibling.id).await.unwrap().unwrap().key, sibling, "only that key");

    // What identifies and authenticates the key never changes through an update.
    let sneaky = ApiKey {
        app_id: "app-2".into(),
        verifier_hash: fixtures::new_hash(),
        test: !k.test,
        created_at: NOW + 99,
        last_used_at: Some(NOW + 99),
        name: "sneaky".into(),
        ..changed.clone()
    };
    assert!(store.update_api_key(&sneaky).await.unwrap());
    let stored = store.get_api_key(&k.id).await.unwrap().unwrap().key;
    assert_eq!(stored, ApiKey { name: "sneaky".into(), ..changed.clone() });

    // An unknown permission refuses the whole change.
    let unknown =
        ApiKey { name: "other".into(), permissions: vec!["orders.read".into(), "nope".into()], ..stored.clone() };
    assert!(matches!(store.update_api_key(&unknown).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key, stored, "a refused change changes nothing");

    // Another realm's key, an unknown key, a revoked key: no such live key.
    let elsewhere = ApiKey { realm: "other".into(), permissions: vec![], ..stored.clone() };
    assert!(!store.update_api_key(&elsewhere).await.unwrap());
    assert!(!store.update_api_key(&ApiKey { id: fixtures::new_id(), ..stored.clone() }).await.unwrap());
    assert!(store.revoke_api_key("acme", &k.id, NOW + 5).await.unwrap());
    assert!(!store.update_api_key(&ApiKey { name: "late".into(), ..stored.clone() }).await.unwrap());
    assert_eq!(store.get_api_key(&k.id).await.unwrap().unwrap().key.name, "sneaky");
}
