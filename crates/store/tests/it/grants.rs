//! Grants, authorization codes and refresh-token rotation: the token families and
//! the single-use rules that protect them.

use std::sync::Arc;

use portcullis_core::model::{AuthorizationCode, Grant, TokenKind, TokenRecord};
use portcullis_core::store::{CodeRedemption, Rotation, Store, StoreError};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::{self, NOW};

const RACERS: usize = 16;

/// Runs `RACERS` copies of `call` at once, each from its own task (so on PostgreSQL
/// from its own pooled connection), and returns their results.
async fn race<T, F, Fut>(store: &Arc<dyn Store>, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let start = Arc::new(Barrier::new(RACERS));
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (fut, start) = (call(store.clone(), i), start.clone());
        racers.spawn(async move {
            start.wait().await;
            fut.await
        });
    }
    racers.join_all().await
}

pub async fn grant_round_trips_with_its_tokens(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let full = fixtures::grant("acme", "web", "user-1");
    let refresh = fixtures::grant_token(&full);
    let access = TokenRecord { kind: TokenKind::Access, ..fixtures::grant_token(&full) };
    store.create_grant(&full, &[refresh.clone(), access.clone()]).await.unwrap();

    let mut bare = fixtures::grant("acme", "web", "web");
    bare.username = None;
    bare.scope = String::new();
    bare.teams = vec![];
    bare.permissions = vec![];
    bare.test = false;
    bare.revoked_at = Some(NOW + 1);
    store.create_grant(&bare, &[]).await.unwrap();

    assert_eq!(store.get_grant(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.get_grant(&bare.id).await.unwrap(), Some(bare));
    assert_eq!(store.get_grant(&fixtures::new_id()).await.unwrap(), None);
    for token in [refresh, access] {
        let stored = store.get_token(&token.id).await.unwrap().unwrap();
        assert_eq!(stored.record, token);
        assert!(!stored.grant_revoked);
    }
}

/// The grant and its tokens are one transaction: a token that cannot be stored leaves
/// no grant behind, and a grant that cannot be stored no token.
pub async fn create_grant_is_atomic(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let taken = fixtures::insert_live_token(&store, "acme", "web").await;

    let grant = fixtures::grant("acme", "web", "user-1");
    let fresh = fixtures::grant_token(&grant);
    let clash = TokenRecord { id: taken, ..fixtures::grant_token(&grant) };
    assert!(matches!(store.create_grant(&grant, &[fresh.clone(), clash]).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), None);
    assert_eq!(store.get_token(&fresh.id).await.unwrap(), None);

    store.create_grant(&grant, &[]).await.unwrap();
    let again = fixtures::grant_token(&grant);
    match store.create_grant(&grant, std::slice::from_ref(&again)).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("grant"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get_token(&again.id).await.unwrap(), None);

    // A grant for a client the realm does not have.
    let ghost = fixtures::grant("acme", "ghost", "user-1");
    assert!(matches!(store.create_grant(&ghost, &[]).await, Err(StoreError::Backend(_))));
}

pub async fn insert_tokens_stores_all_or_nothing(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let (grant, first) = fixtures::create_grant(&store, "acme", "web", "user-1").await;
    let a = fixtures::grant_token(&grant);
    let b = fixtures::grant_token(&grant);
    store.insert_tokens(&[a.clone(), b.clone()]).await.unwrap();
    for t in [&a, &b] {
        assert_eq!(&store.get_token(&t.id).await.unwrap().unwrap().record, t);
    }
    let c = fixtures::grant_token(&grant);
    let clash = TokenRecord { id: first.id, ..fixtures::grant_token(&grant) };
    assert!(matches!(store.insert_tokens(&[c.clone(), clash]).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_token(&c.id).await.unwrap(), None);
    store.insert_tokens(&[]).await.unwrap();
}

pub async fn list_grants_filters_newest_first(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    fixtures::create_client(&store, "acme", "web").await;
    fixtures::create_client(&store, "acme", "cli").await;
    fixtures::create_client(&store, "beta", "web").await;
    let mut at = NOW;
    let mut make = async |realm: &str, client: &str, subject: &str| {
        at += 10;
        let g = Grant { created_at: at, ..fixtures::grant(realm, client, subject) };
        store.create_grant(&g, &[]).await.unwrap();
        g
    };
    let a_web = make("acme", "web", "alice").await;
    let b_web = make("acme", "web", "bob").await;
    let a_cli = make("acme", "cli", "alice").await;
    let a_web2 = make("acme", "web", "alice").await;
    make("beta", "web", "alice").await;
    store.revoke_grant(&a_web.id, NOW + 100).await.unwrap();
    let a_web = Grant { revoked_at: Some(NOW + 100), ..a_web };

    let list = async |user, client| store.list_grants("acme", user, client).await.unwrap();
    assert_eq!(list(None, None).await, [a_web2.clone(), a_cli.clone(), b_web.clone(), a_web.clone()]);
    assert_eq!(list(Some("alice"), None).await, [a_web2.clone(), a_cli.clone(), a_web.clone()]);
    assert_eq!(list(None, Some("web")).await, [a_web2.clone(), b_web.clone(), a_web.clone()]);
    assert_eq!(list(Some("alice"), Some("web")).await, [a_web2.clone(), a_web.clone()]);
    assert_eq!(list(Some("bob"), Some("cli")).await, []);
    assert_eq!(list(Some("Alice"), None).await, [], "subjects are exact");
    assert!(store.list_grants("nowhere", None, None).await.unwrap().is_empty());
}

/// Revoking a grant revokes its family: every token of it reads `grant_revoked`.
pub async fn revoke_grant_revokes_the_family(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let (grant, refresh) = fixtures::create_grant(&store, "acme", "web", "user-1").await;
    let access = TokenRecord { kind: TokenKind::Access, ..fixtures::grant_token(&grant) };
    store.insert_tokens(std::slice::from_ref(&access)).await.unwrap();
    let (other, other_token) = fixtures::create_grant(&store, "acme", "web", "user-1").await;

    assert!(store.revoke_grant(&grant.id, NOW + 5).await.unwrap());
    assert!(!store.revoke_grant(&grant.id, NOW + 6).await.unwrap());
    assert!(!store.revoke_grant(&fixtures::new_id(), NOW).await.unwrap());
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(NOW + 5));
    for token in [&refresh, &access] {
        let stored = store.get_token(&token.id).await.unwrap().unwrap();
        assert!(stored.grant_revoked);
        assert_eq!(&stored.record, token, "the token rows themselves are unchanged");
    }
    assert_eq!(store.get_grant(&other.id).await.unwrap(), Some(other));
    assert!(!store.get_token(&other_token.id).await.unwrap().unwrap().grant_revoked);

    // A token issued into the revoked family later is revoked with it.
    let late = fixtures::grant_token(&grant);
    store.insert_tokens(std::slice::from_ref(&late)).await.unwrap();
    assert!(store.get_token(&late.id).await.unwrap().unwrap().grant_revoked);
}

pub async fn create_grant_with_code_consumes_the_request(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();

    let grant = fixtures::grant("acme", "web", "user-1");
    let code = fixtures::code(&grant);
    store.create_grant_with_code(&grant, &code, Some(&request.id)).await.unwrap();
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), Some(grant));
    assert_eq!(store.get_authorization_request(&request.id, NOW).await.unwrap(), None);
    assert!(!store.delete_authorization_request(&request.id).await.unwrap());

    // The request is spent: a second answer writes nothing.
    let second = fixtures::grant("acme", "web", "user-1");
    let second_code = fixtures::code(&second);
    assert!(matches!(
        store.create_grant_with_code(&second, &second_code, Some(&request.id)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_grant(&second.id).await.unwrap(), None);
    assert_eq!(store.redeem_code(&second_code.id, NOW, &[]).await.unwrap(), CodeRedemption::Unknown);

    // A code that cannot be stored leaves neither the grant nor a consumed request.
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    let third = fixtures::grant("acme", "web", "user-1");
    let clash = AuthorizationCode { id: code.id, ..fixtures::code(&third) };
    assert!(matches!(
        store.create_grant_with_code(&third, &clash, Some(&request.id)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_grant(&third.id).await.unwrap(), None);
    assert!(store.get_authorization_request(&request.id, NOW).await.unwrap().is_some());

    // No request stored (an approved client, a signed-in user): the grant and its code
    // only, and the pending request of the same browser stays.
    let fourth = fixtures::grant("acme", "web", "user-1");
    let fourth_code = fixtures::code(&fourth);
    store.create_grant_with_code(&fourth, &fourth_code, None).await.unwrap();
    assert_eq!(store.get_grant(&fourth.id).await.unwrap(), Some(fourth));
    assert_eq!(store.get_code(&fourth_code.id).await.unwrap(), Some(fourth_code));
    assert!(store.get_authorization_request(&request.id, NOW).await.unwrap().is_some());
}

/// The first redemption gets the code; any later one is a replay, which revokes the
/// grant (and so the tokens issued from the code).
pub async fn redeem_code_once_then_replay_revokes_the_grant(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    let grant = fixtures::grant("acme", "web", "user-1");
    let code = fixtures::code(&grant);
    store.create_grant_with_code(&grant, &code, Some(&request.id)).await.unwrap();
    let issued = fixtures::grant_token(&grant);

    assert_eq!(store.get_code(&code.id).await.unwrap(), Some(code.clone()));
    let used = AuthorizationCode { used_at: Some(NOW + 3), ..code.clone() };
    let redeemed = store.redeem_code(&code.id, NOW + 3, std::slice::from_ref(&issued)).await.unwrap();
    assert_eq!(redeemed, CodeRedemption::Redeemed(used.clone()));
    assert_eq!(store.get_code(&code.id).await.unwrap(), Some(used.clone()));
    assert!(!store.get_token(&issued.id).await.unwrap().unwrap().grant_revoked, "the winner's tokens are stored");

    // A replay stores nothing of what it carries.
    let smuggled = fixtures::grant_token(&grant);
    let replay = store.redeem_code(&code.id, NOW + 9, std::slice::from_ref(&smuggled)).await.unwrap();
    assert_eq!(replay, CodeRedemption::Replayed(used.clone()));
    assert_eq!(store.get_token(&smuggled.id).await.unwrap(), None);
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(NOW + 9));
    assert!(store.get_token(&issued.id).await.unwrap().unwrap().grant_revoked);
    // Later replays keep the first revocation and the first use.
    assert_eq!(store.redeem_code(&code.id, NOW + 20, &[]).await.unwrap(), CodeRedemption::Replayed(used));
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(NOW + 9));

    assert_eq!(store.redeem_code(&fixtures::new_id(), NOW, &[]).await.unwrap(), CodeRedemption::Unknown);

    // Every optional field empty round-trips too.
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    let plain = fixtures::grant("acme", "web", "user-1");
    let mut bare = fixtures::code(&plain);
    bare.redirect_uri_given = false;
    bare.code_challenge = None;
    bare.code_challenge_method = None;
    store.create_grant_with_code(&plain, &bare, Some(&request.id)).await.unwrap();
    let bare_used = AuthorizationCode { used_at: Some(NOW), ..bare.clone() };
    assert_eq!(store.redeem_code(&bare.id, NOW, &[]).await.unwrap(), CodeRedemption::Redeemed(bare_used));
}

pub async fn concurrent_redemptions_have_one_winner(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let request = fixtures::request("acme", "web");
    store.create_authorization_request(&request).await.unwrap();
    let grant = fixtures::grant("acme", "web", "user-1");
    let code = fixtures::code(&grant);
    store.create_grant_with_code(&grant, &code, Some(&request.id)).await.unwrap();

    let id = code.id;
    // Each racer carries a token of its own: only the winner's may be stored.
    let issued: Arc<Vec<TokenRecord>> = Arc::new((0..RACERS).map(|_| fixtures::grant_token(&grant)).collect());
    let carried = issued.clone();
    let raced = race(&store, move |store, i| {
        let carried = carried.clone();
        async move { (i, store.redeem_code(&id, NOW + i as i64, &carried[i..=i]).await.unwrap()) }
    })
    .await;
    for (i, outcome) in &raced {
        let stored = store.get_token(&issued[*i].id).await.unwrap();
        assert_eq!(stored.is_some(), matches!(outcome, CodeRedemption::Redeemed(_)), "racer {i}: {outcome:?}");
    }
    let outcomes: Vec<CodeRedemption> = raced.into_iter().map(|(_, o)| o).collect();
    let redeemed: Vec<_> =
        outcomes.iter().filter_map(|o| if let CodeRedemption::Redeemed(c) = o { Some(c) } else { None }).collect();
    assert_eq!(redeemed.len(), 1, "{outcomes:?}");
    let winner = redeemed[0].clone();
    assert!(winner.used_at.is_some());
    for o in &outcomes {
        match o {
            CodeRedemption::Redeemed(_) => {}
            CodeRedemption::Replayed(c) => assert_eq!(c, &winner, "replays see the winning use"),
            CodeRedemption::Unknown => panic!("the code went missing"),
        }
    }
    // The replays revoked the grant.
    assert!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at.is_some());
}

/// A stored refresh token of a new grant, and the pair a rotation would issue.
async fn refresh_family(store: &Arc<dyn Store>) -> (Grant, TokenRecord, Vec<TokenRecord>) {
    fixtures::create_realm(store, "acme").await;
    fixtures::create_client(store, "acme", "web").await;
    let (grant, old) = fixtures::create_grant(store, "acme", "web", "user-1").await;
    let new = new_pair(&grant);
    (grant, old, new)
}

fn new_pair(grant: &Grant) -> Vec<TokenRecord> {
    vec![TokenRecord { kind: TokenKind::Access, ..fixtures::grant_token(grant) }, fixtures::grant_token(grant)]
}

pub async fn rotation_spends_the_old_token_and_stores_the_new(store: Arc<dyn Store>) {
    let (grant, old, new) = refresh_family(&store).await;
    assert_eq!(store.rotate_refresh_token(&old.id, NOW + 5, None, &new).await.unwrap(), Rotation::Rotated);

    let spent = store.get_token(&old.id).await.unwrap().unwrap();
    assert_eq!(spent.record, TokenRecord { used_at: Some(NOW + 5), ..old.clone() });
    assert!(!spent.grant_revoked);
    for t in &new {
        let stored = store.get_token(&t.id).await.unwrap().unwrap();
        assert_eq!(&stored.record, t);
        assert!(!stored.grant_revoked);
    }
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, None);

    // The new refresh token rotates in turn.
    let next = new_pair(&grant);
    assert_eq!(store.rotate_refresh_token(&new[1].id, NOW + 6, None, &next).await.unwrap(), Rotation::Rotated);
}

/// Presenting a spent refresh token outside any grace period is reuse: nothing of the
/// new tokens is stored and the whole family is revoked.
pub async fn reuse_stores_nothing_and_revokes_the_grant(store: Arc<dyn Store>) {
    let (grant, old, new) = refresh_family(&store).await;
    assert_eq!(store.rotate_refresh_token(&old.id, NOW + 5, None, &new).await.unwrap(), Rotation::Rotated);

    let stolen = new_pair(&grant);
    assert_eq!(store.rotate_refresh_token(&old.id, NOW + 8, None, &stolen).await.unwrap(), Rotation::Reused);
    for t in &stolen {
        assert_eq!(store.get_token(&t.id).await.unwrap(), None);
    }
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(NOW + 8));
    for t in std::iter::once(&old).chain(&new) {
        assert!(store.get_token(&t.id).await.unwrap().unwrap().grant_revoked);
    }
    assert_eq!(store.get_token(&old.id).await.unwrap().unwrap().record.used_at, Some(NOW + 5), "first use stands");

    // A revoked token that was never spent does not rotate either.
    let revoked = fixtures::insert_live_token(&store, "acme", "web").await;
    store.revoke_token(&revoked, NOW).await.unwrap();
    let more = new_pair(&grant);
    assert_eq!(store.rotate_refresh_token(&revoked, NOW + 9, None, &more).await.unwrap(), Rotation::Reused);
    assert_eq!(store.get_token(&more[0].id).await.unwrap(), None);

    // An unknown token stores nothing either.
    let ghost = new_pair(&grant);
    assert_eq!(store.rotate_refresh_token(&fixtures::new_id(), NOW, None, &ghost).await.unwrap(), Rotation::Reused);
    assert_eq!(store.get_token(&ghost[0].id).await.unwrap(), None);
}

pub async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
    let (grant, old, _) = refresh_family(&store).await;
    let before = store.get_token(&old.id).await.unwrap().unwrap();
    assert!(before.record.used_at.is_none() && before.record.revoked_at.is_none() && !before.grant_revoked);
    let pairs: Arc<Vec<Vec<TokenRecord>>> = Arc::new((0..RACERS).map(|_| new_pair(&grant)).collect());

    let id = old.id;
    let racing = pairs.clone();
    let outcomes = race(&store, move |store, i| {
        let pairs = racing.clone();
        async move { (i, store.rotate_refresh_token(&id, NOW + 1, None, &pairs[i]).await.unwrap()) }
    })
    .await;

    let winners: Vec<usize> = outcomes.iter().filter(|(_, o)| *o == Rotation::Rotated).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|(_, o)| matches!(o, Rotation::Rotated | Rotation::Reused)), "{outcomes:?}");
    for (i, pair) in pairs.iter().enumerate() {
        for t in pair {
            let stored = store.get_token(&t.id).await.unwrap();
            if i == winners[0] {
                // Stored, and revoked with the family the losers' reuse revoked.
                assert!(stored.unwrap().grant_revoked);
            } else {
                assert_eq!(stored, None, "a losing rotation stored its tokens");
            }
        }
    }
    assert!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at.is_some());
    assert!(store.get_token(&old.id).await.unwrap().unwrap().grant_revoked);
}

/// Within the grace period a retry of a just-rotated token gets a fresh pair and
/// revokes nothing; `grace_since` is the earliest use that still counts.
pub async fn rotation_grace_period(store: Arc<dyn Store>) {
    let (grant, old, first) = refresh_family(&store).await;
    let used_at = NOW + 10;
    assert_eq!(store.rotate_refresh_token(&old.id, used_at, None, &first).await.unwrap(), Rotation::Rotated);

    // grace_since == used_at: still within.
    let retry = new_pair(&grant);
    let outcome = store.rotate_refresh_token(&old.id, used_at + 2, Some(used_at), &retry).await.unwrap();
    assert_eq!(outcome, Rotation::WithinGrace);
    let retry2 = new_pair(&grant);
    let outcome = store.rotate_refresh_token(&old.id, used_at + 3, Some(used_at - 5), &retry2).await.unwrap();
    assert_eq!(outcome, Rotation::WithinGrace);
    for t in retry.iter().chain(&retry2).chain(&first) {
        let stored = store.get_token(&t.id).await.unwrap().unwrap();
        assert_eq!(&stored.record, t);
        assert!(!stored.grant_revoked);
    }
    let spent = store.get_token(&old.id).await.unwrap().unwrap().record;
    assert_eq!(spent.used_at, Some(used_at), "the old token stays spent at its first use");
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, None);

    // grace_since > used_at: the grace period is over, so this is reuse.
    let late = new_pair(&grant);
    let outcome = store.rotate_refresh_token(&old.id, used_at + 60, Some(used_at + 1), &late).await.unwrap();
    assert_eq!(outcome, Rotation::Reused);
    assert_eq!(store.get_token(&late[0].id).await.unwrap(), None);
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(used_at + 60));

    // Once the family is revoked, even a retry within the grace period gets nothing.
    let after = new_pair(&grant);
    let outcome = store.rotate_refresh_token(&old.id, used_at + 61, Some(used_at), &after).await.unwrap();
    assert_eq!(outcome, Rotation::Reused);
    assert_eq!(store.get_token(&after[0].id).await.unwrap(), None);
}

/// Concurrent rotations of one token with a grace period: one spends it, every other
/// finds it spent within the grace period (not reused), and all their tokens are
/// stored in a family nobody revoked.
pub async fn concurrent_rotations_within_grace_all_get_tokens(store: Arc<dyn Store>) {
    let (grant, old, _) = refresh_family(&store).await;
    let pairs: Arc<Vec<Vec<TokenRecord>>> = Arc::new((0..RACERS).map(|_| new_pair(&grant)).collect());
    let id = old.id;
    let racing = pairs.clone();
    let outcomes = race(&store, move |store, i| {
        let pairs = racing.clone();
        async move { store.rotate_refresh_token(&id, NOW + 1, Some(NOW - 30), &pairs[i]).await.unwrap() }
    })
    .await;
    let rotated = outcomes.iter().filter(|o| **o == Rotation::Rotated).count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Rotation::Rotated | Rotation::WithinGrace)), "{outcomes:?}");
    for t in pairs.iter().flatten() {
        let stored = store.get_token(&t.id).await.unwrap().expect("every rotation stored its tokens");
        assert!(!stored.grant_revoked);
    }
    assert_eq!(store.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, None);
}
