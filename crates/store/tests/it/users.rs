use std::sync::Arc;

use portcullis_core::model::{TokenUser, User, UserKind};
use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};

pub async fn user_crud(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    assert_eq!(store.get_user("acme", "nobody").await.unwrap(), None);
    assert_eq!(store.find_user("acme", "nobody").await.unwrap(), None);

    let alice = fixtures::create_user(&store, "acme", "Alice").await;
    let mut bob = fixtures::user("acme", "bob");
    bob.password_hash = None;
    bob.roles = vec![];
    bob.teams = vec![];
    bob.kind = UserKind::Staff;
    bob.disabled = false;
    store.create_user(&bob).await.unwrap();

    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get_user("acme", &bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.find_user("acme", &alice.id).await.unwrap(), Some(alice.clone()));
    for name in ["Alice", "alice", "ALICE", "aLiCe"] {
        assert_eq!(store.find_user("acme", name).await.unwrap(), Some(alice.clone()), "{name}");
    }
    assert_eq!(store.find_user("acme", "alic").await.unwrap(), None);
    // get_user is by id only.
    assert_eq!(store.get_user("acme", "Alice").await.unwrap(), None);
    assert_eq!(store.list_users("acme").await.unwrap(), [alice.clone(), bob.clone()]);

    // Every mutable field but the password hash changes; realm, id and created_at are
    // the key and history.
    let changed = User {
        username: "Alice.Smith".to_owned(),
        password_hash: None,
        roles: vec!["viewer".to_owned()],
        teams: vec![],
        kind: UserKind::Staff,
        disabled: false,
        created_at: NOW + 999,
        updated_at: NOW + 100,
        ..alice.clone()
    };
    store.update_user(&changed).await.unwrap();
    let expected = User { created_at: alice.created_at, password_hash: alice.password_hash.clone(), ..changed.clone() };
    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_user("acme", "alice.smith").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_user("acme", "alice").await.unwrap(), None, "the old username is free");
    assert_eq!(store.list_users("acme").await.unwrap(), [expected.clone(), bob.clone()]);

    store.delete_user("acme", &alice.id).await.unwrap();
    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), None);
    assert_eq!(store.list_users("acme").await.unwrap(), [bob]);
    // The username can be taken again.
    fixtures::create_user(&store, "acme", "alice").await;
}

pub async fn usernames_are_unique_case_insensitively(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    let alice = fixtures::create_user(&store, "acme", "Alice").await;

    for clash in ["alice", "ALICE", "Alice"] {
        match store.create_user(&fixtures::user("acme", clash)).await {
            Err(StoreError::Conflict(what)) => assert!(what.contains("username"), "{what}"),
            other => panic!("{clash}: expected a username conflict, got {other:?}"),
        }
    }
    // Beyond ASCII too: SQL lower() would fold this on PostgreSQL but not on SQLite.
    fixtures::create_user(&store, "acme", "ÉMILE").await;
    assert!(matches!(store.create_user(&fixtures::user("acme", "émile")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_user("acme", "Émile").await.unwrap().unwrap().username, "ÉMILE");

    let same_id = User { username: "someone".to_owned(), ..alice.clone() };
    match store.create_user(&same_id).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("id"), "{what}"),
        other => panic!("expected an id conflict, got {other:?}"),
    }

    // Renaming onto a taken name, in another case, is a conflict too.
    let bob = fixtures::create_user(&store, "acme", "bob").await;
    let renamed = User { username: "aLICE".to_owned(), ..bob.clone() };
    assert!(matches!(store.update_user(&renamed).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_user("acme", &bob.id).await.unwrap(), Some(bob.clone()));
    // Changing only the case of one's own name is not.
    let recased = User { username: "BOB".to_owned(), ..bob.clone() };
    store.update_user(&recased).await.unwrap();
    assert_eq!(store.find_user("acme", "bob").await.unwrap(), Some(recased));

    // Usernames and ids are per realm.
    store.create_user(&User { realm: "beta".to_owned(), ..alice.clone() }).await.unwrap();
    assert_eq!(store.list_users("beta").await.unwrap().len(), 1);
    assert_eq!(store.find_user("beta", "alice").await.unwrap().unwrap().realm, "beta");
}

/// Another user may be named like this one's id: the id wins.
pub async fn find_user_prefers_id_over_username(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let by_id = fixtures::create_user(&store, "acme", "someone").await;
    let by_name = fixtures::create_user(&store, "acme", &by_id.id.to_uppercase()).await;
    assert_eq!(store.find_user("acme", &by_id.id).await.unwrap(), Some(by_id.clone()));
    assert_eq!(store.find_user("acme", &by_id.id.to_uppercase()).await.unwrap(), Some(by_name.clone()));
    assert_eq!(store.find_user("acme", &by_name.id).await.unwrap(), Some(by_name));
}

pub async fn user_is_invisible_from_another_realm(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    assert_eq!(store.get_user("beta", &alice.id).await.unwrap(), None);
    assert_eq!(store.find_user("beta", "alice").await.unwrap(), None);
    assert!(store.list_users("beta").await.unwrap().is_empty());
    let from_beta = User { realm: "beta".to_owned(), ..alice.clone() };
    assert!(matches!(store.update_user(&from_beta).await, Err(StoreError::NotFound)));
    assert!(matches!(store.set_user_password("beta", &alice.id, "h", NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_user("beta", &alice.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), Some(alice));
}

pub async fn missing_user_update_password_and_delete_are_not_found(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let ghost = fixtures::user("acme", "ghost");
    // A grant naming the missing user is left alone by the failed calls.
    let (grant, _) = fixtures::create_grant(&store, "acme", "web", &ghost.id).await;
    assert!(matches!(store.update_user(&ghost).await, Err(StoreError::NotFound)));
    assert!(matches!(store.set_user_password("acme", &ghost.id, "h", NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_user("acme", &ghost.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.create_user(&fixtures::user("nowhere", "x")).await, Err(StoreError::Backend(_))));
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), Some(grant));
}

/// The new hash and the revocation of every live grant of the user are one
/// transaction; other users' grants and already revoked ones keep their state.
pub async fn set_user_password_revokes_the_users_grants(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "cli").await;
    fixtures::create_client(&store, "beta", "web").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let bob = fixtures::create_user(&store, "acme", "bob").await;
    let (web, web_token) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;
    let (cli, _) = fixtures::create_grant(&store, "acme", "cli", &alice.id).await;
    let (old, _) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;
    assert!(store.revoke_grant(&old.id, NOW + 1).await.unwrap());
    let (bobs, bobs_token) = fixtures::create_grant(&store, "acme", "web", &bob.id).await;
    // The same subject in another realm is someone else.
    let (elsewhere, _) = fixtures::create_grant(&store, "beta", "web", &alice.id).await;

    store.set_user_password("acme", &alice.id, "$argon2id$new", NOW + 7).await.unwrap();

    let stored = store.get_user("acme", &alice.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(stored.updated_at, NOW + 7);
    let revoked_at = async |id: [u8; 16]| store.get_grant(&id).await.unwrap().unwrap().revoked_at;
    assert_eq!(revoked_at(web.id).await, Some(NOW + 7));
    assert_eq!(revoked_at(cli.id).await, Some(NOW + 7));
    assert_eq!(revoked_at(old.id).await, Some(NOW + 1), "the first revocation stands");
    assert_eq!(revoked_at(bobs.id).await, None);
    assert_eq!(revoked_at(elsewhere.id).await, None);
    assert!(store.get_token(&web_token.id).await.unwrap().unwrap().grant_revoked);
    assert!(!store.get_token(&bobs_token.id).await.unwrap().unwrap().grant_revoked);
    assert_eq!(store.get_user("acme", &bob.id).await.unwrap(), Some(bob));
}

/// The user goes with their grants, the tokens and codes of those grants, their
/// consents and their sessions; nobody else's.
pub async fn delete_user_removes_everything_of_theirs(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let bob = fixtures::create_user(&store, "acme", "bob").await;

    let (grant, refresh) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;
    let mut access = fixtures::grant_token(&grant);
    access.kind = portcullis_core::model::TokenKind::Access;
    store.insert_tokens(std::slice::from_ref(&access)).await.unwrap();
    let code_grant = fixtures::grant("acme", "web", &alice.id);
    let code = fixtures::code(&code_grant);
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    store.create_grant_with_code(&code_grant, &code, Some(&request.id)).await.unwrap();
    store.save_consent("acme", &alice.id, "web", "openid", NOW).await.unwrap();
    let session = fixtures::session("acme", Some(&alice.id));
    store.create_session(&session).await.unwrap();

    let (bobs_grant, bobs_token) = fixtures::create_grant(&store, "acme", "web", &bob.id).await;
    store.save_consent("acme", &bob.id, "web", "openid", NOW).await.unwrap();
    let bobs_session = fixtures::session("acme", Some(&bob.id));
    store.create_session(&bobs_session).await.unwrap();
    let anonymous = fixtures::session("acme", None);
    store.create_session(&anonymous).await.unwrap();
    // A client token with no grant is no token of the user's.
    let client_token = fixtures::insert_live_token(&store, "acme", "web").await;

    store.delete_user("acme", &alice.id).await.unwrap();

    assert_eq!(store.get_user("acme", &alice.id).await.unwrap(), None);
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), None);
    assert_eq!(store.get_grant(&code_grant.id).await.unwrap(), None);
    assert_eq!(store.get_token(&refresh.id).await.unwrap(), None);
    assert_eq!(store.get_token(&access.id).await.unwrap(), None);
    assert_eq!(store.redeem_code(&code.id, NOW, &[]).await.unwrap(), portcullis_core::store::CodeRedemption::Unknown);
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap(), None);
    assert_eq!(store.get_session(&session.id_hash, NOW).await.unwrap(), None);
    assert!(store.list_grants("acme", Some(&alice.id), None).await.unwrap().is_empty());

    assert_eq!(store.get_user("acme", &bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.get_grant(&bobs_grant.id).await.unwrap(), Some(bobs_grant));
    assert!(store.get_token(&bobs_token.id).await.unwrap().is_some());
    assert_eq!(store.get_consent("acme", &bob.id, "web").await.unwrap().as_deref(), Some("openid"));
    assert_eq!(store.get_session(&bobs_session.id_hash, NOW).await.unwrap(), Some(bobs_session));
    assert_eq!(store.get_session(&anonymous.id_hash, NOW).await.unwrap(), Some(anonymous));
    assert!(store.get_token(&client_token).await.unwrap().is_some());

    // A user created again under the same id inherits nothing.
    store.create_user(&alice).await.unwrap();
    assert_eq!(store.get_consent("acme", &alice.id, "web").await.unwrap(), None);
    assert!(store.list_grants("acme", Some(&alice.id), None).await.unwrap().is_empty());
}

/// get_token reports the roles, state and kind of the token's subject when it is a
/// user of the token's realm.
pub async fn token_reports_its_user(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "beta", "web").await;
    let alice = fixtures::create_user(&store, "acme", "alice").await;
    let (_, token) = fixtures::create_grant(&store, "acme", "web", &alice.id).await;

    let user = store.get_token(&token.id).await.unwrap().unwrap().user;
    assert_eq!(user, Some(TokenUser { roles: alice.roles.clone(), disabled: true, kind: UserKind::Customer }));

    let changed = User { roles: vec![], disabled: false, kind: UserKind::Staff, ..alice.clone() };
    store.update_user(&changed).await.unwrap();
    let user = store.get_token(&token.id).await.unwrap().unwrap().user;
    assert_eq!(user, Some(TokenUser { roles: vec![], disabled: false, kind: UserKind::Staff }));

    // A client's own token, and a token whose subject is a user id of another realm.
    let client_token = fixtures::insert_live_token(&store, "acme", "web").await;
    assert_eq!(store.get_token(&client_token).await.unwrap().unwrap().user, None);
    let (_, foreign) = fixtures::create_grant(&store, "beta", "web", &alice.id).await;
    assert_eq!(store.get_token(&foreign.id).await.unwrap().unwrap().user, None);
}

/// A new password, disabling and deleting each end the user's browser sessions in the
/// transaction that makes the change; anyone else's sessions, and an update that does
/// not disable, leave them alone.
pub async fn password_disable_and_delete_end_the_users_sessions(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let enabled = async |username| {
        let user = User { disabled: false, ..fixtures::user("acme", username) };
        store.create_user(&user).await.unwrap();
        user
    };
    let alice = enabled("alice").await;
    let bob = enabled("bob").await;
    let live = async |user: &User| {
        let s = fixtures::session("acme", Some(&user.id));
        store.create_session(&s).await.unwrap();
        s.id_hash
    };
    let exists = async |hash: [u8; 32]| store.get_session(&hash, NOW).await.unwrap().is_some();
    let anonymous = fixtures::session("acme", None);
    store.create_session(&anonymous).await.unwrap();
    let bobs = live(&bob).await;

    let alices = live(&alice).await;
    store.update_user(&User { roles: vec!["admin".into()], ..alice.clone() }).await.unwrap();
    assert!(exists(alices).await, "an update that does not disable keeps the sessions");
    store.set_user_password("acme", &alice.id, "$argon2id$new", NOW + 1).await.unwrap();
    assert!(!exists(alices).await, "a new password ends the sessions");

    let alices = live(&alice).await;
    store.update_user(&User { disabled: true, ..alice.clone() }).await.unwrap();
    assert!(!exists(alices).await, "disabling ends the sessions");
    store.update_user(&User { disabled: false, ..alice.clone() }).await.unwrap();
    assert!(!exists(alices).await, "enabling again does not bring them back");

    let alices = live(&alice).await;
    store.delete_user("acme", &alice.id).await.unwrap();
    assert!(!exists(alices).await, "deleting ends the sessions");

    assert!(exists(bobs).await);
    assert!(exists(anonymous.id_hash).await);
}
