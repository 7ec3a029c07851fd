//! Browser sessions, pending authorization requests and consents.

use std::sync::Arc;

use portcullis_core::model::{AuthorizationRequest, BrowserSession};
use portcullis_core::store::{Store, StoreError};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::{self, NOW};

pub async fn session_round_trips_until_it_expires(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let signed_in = fixtures::session("acme", Some(&alice.id));
    let anonymous = fixtures::session("acme", None);
    store.create_session(&signed_in).await.unwrap();
    store.create_session(&anonymous).await.unwrap();

    assert_eq!(store.get_session(&signed_in.id_hash, NOW).await.unwrap(), Some(signed_in.clone()));
    assert_eq!(store.get_session(&anonymous.id_hash, NOW).await.unwrap(), Some(anonymous.clone()));
    let last = signed_in.expires_at - 1;
    assert_eq!(store.get_session(&signed_in.id_hash, last).await.unwrap(), Some(signed_in.clone()));
    // `expires_at` is the first instant at which the session is gone.
    assert_eq!(store.get_session(&signed_in.id_hash, signed_in.expires_at).await.unwrap(), None);
    assert_eq!(store.get_session(&fixtures::new_hash(), NOW).await.unwrap(), None);

    match store.create_session(&BrowserSession { user_id: None, ..signed_in.clone() }).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("session"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    store.delete_session(&signed_in.id_hash).await.unwrap();
    assert_eq!(store.get_session(&signed_in.id_hash, NOW).await.unwrap(), None);
    // Deleting twice (a double logout) is not an error.
    store.delete_session(&signed_in.id_hash).await.unwrap();
    assert_eq!(store.get_session(&anonymous.id_hash, NOW).await.unwrap(), Some(anonymous));

    // A session belongs to a user of its realm.
    let stranger = fixtures::session("acme", Some("no-such-user"));
    assert!(matches!(store.create_session(&stranger).await, Err(StoreError::Backend(_))));
}

pub async fn authorization_request_round_trips_until_it_expires(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let full = fixtures::request("acme", "web");
    let bare = AuthorizationRequest {
        id: fixtures::new_id(),
        redirect_uri_given: false,
        response_type: "token".to_owned(),
        response_mode: "fragment".to_owned(),
        scope: String::new(),
        state: None,
        code_challenge: None,
        code_challenge_method: None,
        prompt: None,
        ..full.clone()
    };
    store.create_authorization_request(&full).await.unwrap();
    store.create_authorization_request(&bare).await.unwrap();

    assert_eq!(store.get_authorization_request(&full.id, NOW).await.unwrap(), Some(full.clone()));
    assert_eq!(store.get_authorization_request(&bare.id, NOW).await.unwrap(), Some(bare.clone()));
    let last = full.expires_at - 1;
    assert_eq!(store.get_authorization_request(&full.id, last).await.unwrap(), Some(full.clone()));
    assert_eq!(store.get_authorization_request(&full.id, full.expires_at).await.unwrap(), None);
    assert_eq!(store.get_authorization_request(&fixtures::new_id(), NOW).await.unwrap(), None);

    match store.create_authorization_request(&full).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("authorization request"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let ghost = fixtures::request("acme", "ghost");
    assert!(matches!(store.create_authorization_request(&ghost).await, Err(StoreError::Backend(_))));

    assert!(store.delete_authorization_request(&full.id).await.unwrap());
    assert!(!store.delete_authorization_request(&full.id).await.unwrap());
    assert_eq!(store.get_authorization_request(&full.id, NOW).await.unwrap(), None);
    assert!(!store.delete_authorization_request(&fixtures::new_id()).await.unwrap());
    assert_eq!(store.get_authorization_request(&bare.id, NOW).await.unwrap(), Some(bare));
}

pub async fn concurrent_request_deletions_have_one_winner(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();

    const RACERS: usize = 16;
    let start = Arc::new(Barrier::new(RACERS));
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let (store, start, id) = (store.clone(), start.clone(), request.id);
        racers.spawn(async move {
            start.wait().await;
            store.delete_authorization_request(&id).await.unwrap()
        });
    }
    let winners = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1);
}

pub async fn consent_is_saved_and_replaced(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "cli").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let bob = fixtures::create_user(&store, "acme", "bob").await;
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap(), None);

    store.save_consent("acme", &alice.id, "web", "openid read:all", NOW).await.unwrap();
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap().as_deref(), Some("openid read:all"));
    store.save_consent("acme", &alice.id, "web", "openid", NOW + 1).await.unwrap();
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap().as_deref(), Some("openid"));
    store.save_consent("acme", &alice.id, "web", "", NOW + 2).await.unwrap();
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap().as_deref(), Some(""));

    assert_eq!(store.get_consent("acme", &alice.id, "cli").await.unwrap(), None);
    assert_eq!(store.get_consent("acme", &bob.id, "web").await.unwrap(), None);
    assert_eq!(store.get_consent("beta", &alice.id, "web").await.unwrap(), None);
    // A consent is for a user and a client of the realm.
    assert!(store.save_consent("acme", "no-such-user", "web", "openid", NOW).await.is_err());
    assert!(store.save_consent("acme", &alice.id, "ghost", "openid", NOW).await.is_err());
}

/// A client deleted and created again under the same id inherits no grant, code,
/// consent or pending request of the old one.
pub async fn deleting_a_client_removes_its_grants_consents_and_requests(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "cli").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let (grant, token) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    let code_grant = fixtures::grant("acme", "web", &alice.id);
    let code = fixtures::code(&code_grant);
    store.create_grant_with_code(&code_grant, &code, Some(&request.id)).await.unwrap();
    let pending = fixtures::request("acme", "web");
    store.create_authorization_request(&pending).await.unwrap();
    store.save_consent("acme", &alice.id, "web", "openid", NOW).await.unwrap();
    store.save_consent("acme", &alice.id, "cli", "openid", NOW).await.unwrap();
    let (cli_grant, _) = fixtures::create_grant(&store, "acme", "cli", &alice.id).await;

    store.delete_client("acme", "web").await.unwrap();
    fixtures::create_client(&store, "acme", "web").await;

    assert_eq!(store.get_grant(&grant.id).await.unwrap(), None);
    assert_eq!(store.get_token(&token.id).await.unwrap(), None);
    assert_eq!(store.redeem_code(&code.id, NOW, &[]).await.unwrap(), portcullis_core::store::CodeRedemption::Unknown);
    assert_eq!(store.get_authorization_request(&pending.id, NOW).await.unwrap(), None);
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap(), None);
    assert_eq!(store.list_grants("acme", None, Some("web")).await.unwrap(), []);

    assert_eq!(store.get_consent("acme", &alice.id, "cli").await.unwrap().as_deref(), Some("openid"));
    assert_eq!(store.get_grant(&cli_grant.id).await.unwrap(), Some(cli_grant));
    assert!(store.get_user("acme", &alice.id).await.unwrap().is_some());
}

pub async fn deleting_a_realm_removes_its_users_and_sessions(store: Arc<dyn Store>) {
    for realm in ["acme", "beta"] {
        fixtures::create_realm(&store, realm).await;
        fixtures::create_client(&store, realm, "web").await;
    }
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let session = fixtures::session("acme", Some(&alice.id));
    store.create_session(&session).await.unwrap();
    let (grant, _) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;
    store.save_consent("acme", &alice.id, "web", "openid", NOW).await.unwrap();
    let beta_user = fixtures::create_user(&store, "beta", "alice").await;
    let beta_session = fixtures::session("beta", None);
    store.create_session(&beta_session).await.unwrap();

    store.delete_realm("acme").await.unwrap();

    assert_eq!(store.get_session(&session.id_hash, NOW).await.unwrap(), None);
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), None);
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), None);
    assert!(store.list_users("acme").await.unwrap().is_empty());
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap(), None);

    assert_eq!(store.get_user("beta", &beta_user.id).await.unwrap(), Some(beta_user));
    assert_eq!(store.get_session(&beta_session.id_hash, NOW).await.unwrap(), Some(beta_session));
}
