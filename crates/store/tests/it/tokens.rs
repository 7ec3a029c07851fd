use std::sync::Arc;

use portcullis_core::model::{Client, StoredToken, TokenKind, TokenRecord};
use portcullis_core::store::{Store, StoreError};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::{self, NOW};
use crate::harness;

pub async fn token_round_trips_every_field(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;

    let full = fixtures::token("acme", "web");
    let bare = fixtures::bare_token("acme", "web");
    let mut api = fixtures::bare_token("acme", "web");
    api.kind = TokenKind::Api;
    api.permissions = vec!["one".to_owned()];
    let mut customer = fixtures::token("acme", "web");
    customer.kind = TokenKind::Customer;
    // The extremes of an i64 and of the id bytes.
    customer.id = [0xff; 16];
    customer.grant_id = Some([0; 16]);
    customer.verifier_hash = Some([0; 32]);
    customer.expires_at = Some(i64::MAX);
    customer.issued_at = i64::MIN;

    for token in [&full, &bare, &api, &customer] {
        store.insert_tokens(std::slice::from_ref(token)).await.unwrap();
    }
    for token in [full, bare, api, customer] {
        let stored = store.get_token(&token.id).await.unwrap();
        let expected =
            StoredToken { record: token, client_disabled: false, grant_revoked: false, teams: vec![], user: None };
        assert_eq!(stored, Some(expected));
    }
    assert_eq!(store.get_token(&fixtures::new_id()).await.unwrap(), None);
}

pub async fn token_reports_client_disabled(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let id = fixtures::insert_live_token(&store, "acme", "web").await;
    assert!(!store.get_token(&id).await.unwrap().unwrap().client_disabled);

    store.update_client(&Client { disabled: true, ..web.clone() }).await.unwrap();
    assert!(store.get_token(&id).await.unwrap().unwrap().client_disabled);
    store.update_client(&Client { disabled: false, ..web }).await.unwrap();
    assert!(!store.get_token(&id).await.unwrap().unwrap().client_disabled);
}

pub async fn revoke_token_returns_true_once(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let id = fixtures::insert_live_token(&store, "acme", "web").await;

    assert!(store.revoke_token(&id, NOW + 5).await.unwrap());
    assert!(!store.revoke_token(&id, NOW + 6).await.unwrap());
    let stored = store.get_token(&id).await.unwrap().unwrap();
    assert_eq!(stored.record.revoked_at, Some(NOW + 5), "the first revocation stands");

    assert!(!store.revoke_token(&fixtures::new_id(), NOW).await.unwrap());
}

pub async fn concurrent_revocations_have_one_winner(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let id = fixtures::insert_live_token(&store, "acme", "web").await;

    const RACERS: usize = 16;
    let start = Arc::new(Barrier::new(RACERS));
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            start.wait().await;
            store.revoke_token(&id, NOW + i as i64).await.unwrap()
        });
    }
    let winners = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(winners, 1);
    assert!(store.get_token(&id).await.unwrap().unwrap().record.revoked_at.is_some());
}

pub async fn token_for_unknown_client_is_refused(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_realm(&store, "beta").await;
    fixtures::create_client(&store, "beta", "web").await;
    for (realm, client) in [("acme", "ghost"), ("acme", "web"), ("nowhere", "web")] {
        let token = fixtures::bare_token(realm, client);
        match store.insert_tokens(std::slice::from_ref(&token)).await {
            Err(StoreError::Backend(_)) => {}
            other => panic!("token for {realm}/{client}: {other:?}"),
        }
        assert_eq!(store.get_token(&token.id).await.unwrap(), None);
    }
}

pub async fn duplicate_token_id_is_conflict(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let token = fixtures::bare_token("acme", "web");
    store.insert_tokens(std::slice::from_ref(&token)).await.unwrap();
    let again = TokenRecord { id: token.id, ..fixtures::token("acme", "web") };
    match store.insert_tokens(std::slice::from_ref(&again)).await {
        Err(StoreError::Conflict(what)) => assert!(what.contains("token"), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let stored = store.get_token(&token.id).await.unwrap().unwrap();
    assert_eq!(stored.record, token, "the first token is untouched");
}

/// Group commit (the hot insert of client_credentials): many concurrent inserts are
/// batched, each caller learns its own outcome, and a bad row in a batch (here a
/// duplicate id) fails only its own caller.
pub async fn concurrent_inserts_each_get_their_own_outcome(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let taken = fixtures::token("acme", "web");
    store.insert_tokens(std::slice::from_ref(&taken)).await.unwrap();
    let mut set = JoinSet::new();
    for i in 0..200 {
        let store = store.clone();
        // Every tenth row reuses an id that is already stored.
        let duplicate = i % 10 == 0;
        let mut token = fixtures::token("acme", "web");
        if duplicate {
            token.id = taken.id;
        }
        set.spawn(async move {
            let result = store.insert_token_if_client_at(&token, web.revision).await;
            (token, duplicate, result)
        });
    }
    let mut ok = 0;
    while let Some(joined) = set.join_next().await {
        let (token, duplicate, result) = joined.unwrap();
        let stored = store.get_token(&token.id).await.unwrap().expect("stored");
        if duplicate {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "a duplicate id was accepted: {result:?}");
            assert_eq!(stored.record, taken, "the stored token is untouched");
        } else {
            assert!(result.unwrap(), "the client did not change");
            assert_eq!(stored.record, token, "an acknowledged insert is readable at once");
            ok += 1;
        }
    }
    assert_eq!(ok, 180);
}

/// A conditional insert writes only while the client is at the given revision; any
/// change to the client (update, new secret) or its deletion makes it write nothing.
pub async fn conditional_insert_follows_the_client_revision(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let first = fixtures::token("acme", "web");
    assert!(store.insert_token_if_client_at(&first, web.revision).await.unwrap());
    assert!(store.get_token(&first.id).await.unwrap().is_some());

    store.update_client(&Client { name: "renamed".into(), ..web.clone() }).await.unwrap();
    let stale = fixtures::token("acme", "web");
    assert!(!store.insert_token_if_client_at(&stale, web.revision).await.unwrap());
    assert_eq!(store.get_token(&stale.id).await.unwrap(), None, "nothing written for a stale copy");

    let current = store.get_client("acme", "web").await.unwrap().unwrap();
    store.rotate_client_secret("acme", "web", &[3; 32], None).await.unwrap();
    assert!(!store.insert_token_if_client_at(&fixtures::token("acme", "web"), current.revision).await.unwrap());
    let rotated = store.get_client("acme", "web").await.unwrap().unwrap();
    assert!(rotated.revision > current.revision);
    assert!(store.insert_token_if_client_at(&fixtures::token("acme", "web"), rotated.revision).await.unwrap());

    store.delete_client("acme", "web").await.unwrap();
    assert!(!store.insert_token_if_client_at(&fixtures::token("acme", "web"), rotated.revision).await.unwrap());
}

/// SQLite: the token inserts of one writer batch share statements (chunks of 32, 8 and
/// 1 rows, `sqlite/token_inserts.rs`). Each round queues 41 inserts behind the paused
/// writer, so that they are one batch, and each caller must get its own answer. In the
/// first, every tenth repeats a stored id: its chunk fails and is retried row by row, and
/// only that row fails. In the second, no row fails and the chunks stand: a stale
/// revision or a client that does not exist writes nothing, the rest are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_batch_of_token_inserts_answers_each_caller() {
    harness::sqlite(|url| async move {
        let lite = Arc::new(portcullis_store::SqliteStore::connect(&url, &harness::options()).await.unwrap());
        let store: Arc<dyn Store> = lite.clone();
        fixtures::create_realm(&store, "acme").await;
        let web = fixtures::create_client(&store, "acme", "web").await;
        store.update_client(&web).await.unwrap();
        let now_at = store.get_client("acme", "web").await.unwrap().unwrap().revision;
        let taken = fixtures::token("acme", "web");
        store.insert_tokens(std::slice::from_ref(&taken)).await.unwrap();
        for with_duplicates in [true, false] {
            let resume = lite.pause_writer();
            let mut set = JoinSet::new();
            for i in 0..41 {
                let store = store.clone();
                let mut token = fixtures::token("acme", if i == 40 { "ghost" } else { "web" });
                // (Not 33: its stale revision would keep it out before its id is compared.)
                let duplicate = with_duplicates && i % 10 == 3 && i != 33;
                if duplicate {
                    token.id = taken.id;
                }
                let revision = if i % 7 == 5 { web.revision } else { now_at };
                let expected = match () {
                    () if duplicate => None,
                    () => Some(revision == now_at && i != 40),
                };
                set.spawn(async move {
                    (i, token.clone(), expected, store.insert_token_if_client_at(&token, revision).await)
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            drop(resume);
            while let Some(joined) = set.join_next().await {
                let (i, token, expected, result) = joined.unwrap();
                let stored = store.get_token(&token.id).await.unwrap().map(|s| s.record);
                match expected {
                    None => {
                        assert!(
                            matches!(result, Err(StoreError::Conflict(_))),
                            "insert {i}, a repeated id: {result:?}"
                        );
                        assert_eq!(stored.as_ref(), Some(&taken), "the stored token is untouched");
                    }
                    Some(written) => {
                        assert_eq!(result.unwrap(), written, "insert {i}");
                        assert_eq!(stored.as_ref() == Some(&token), written, "written exactly when acknowledged");
                    }
                }
            }
        }
    })
    .await;
}

/// Concurrent conditional inserts are group-committed like the others, and each gets
/// its own answer: those naming the old revision write nothing, the rest are written.
pub async fn concurrent_conditional_inserts_each_get_their_own_outcome(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    store.update_client(&web).await.unwrap();
    let now_at = store.get_client("acme", "web").await.unwrap().unwrap().revision;
    let mut set = JoinSet::new();
    for i in 0..120 {
        let store = store.clone();
        let expected = if i % 3 == 0 { web.revision } else { now_at };
        let token = fixtures::token("acme", "web");
        set.spawn(
            async move { (token.id, expected == now_at, store.insert_token_if_client_at(&token, expected).await) },
        );
    }
    let mut written = 0;
    while let Some(joined) = set.join_next().await {
        let (id, should, result) = joined.unwrap();
        assert_eq!(result.unwrap(), should);
        assert_eq!(store.get_token(&id).await.unwrap().is_some(), should);
        written += usize::from(should);
    }
    assert_eq!(written, 80);
}

/// The token and the current revision of a client come back together; a missing
/// token or client is `None` on its side only.
pub async fn token_is_read_with_a_client_revision(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let token = fixtures::token("acme", "web");
    store.insert_tokens(std::slice::from_ref(&token)).await.unwrap();
    let (stored, revision) = store.get_token_and_client_revision(&token.id, "acme", "web").await.unwrap();
    assert_eq!(stored.unwrap().record, token);
    assert_eq!(revision, Some(web.revision));
    store.update_client(&Client { disabled: true, ..web }).await.unwrap();
    let (_, revision) = store.get_token_and_client_revision(&token.id, "acme", "web").await.unwrap();
    assert_eq!(revision, Some(1));
    let (stored, revision) = store.get_token_and_client_revision(&[9; 16], "acme", "nobody").await.unwrap();
    assert_eq!((stored, revision), (None, None));
}

/// Concurrent revocations of different tokens (batched into one statement on
/// PostgreSQL) each get their own answer: true for a live token, false for one
/// already revoked or unknown; a token named twice is revoked once.
pub async fn concurrent_revocations_each_get_their_own_answer(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let mut live = Vec::new();
    for _ in 0..40 {
        live.push(fixtures::insert_live_token(&store, "acme", "web").await);
    }
    let revoked = fixtures::insert_live_token(&store, "acme", "web").await;
    assert!(store.revoke_token(&revoked, NOW).await.unwrap());

    // (id, when, expected answer); the twice-named token's answers are checked apart.
    let mut calls: Vec<([u8; 16], i64, Option<bool>)> =
        live.iter().enumerate().map(|(i, id)| (*id, NOW + 10 + i as i64, Some(true))).collect();
    for _ in 0..10 {
        calls.push((fixtures::new_id(), NOW + 1, Some(false)));
        calls.push((revoked, NOW + 2, Some(false)));
    }
    let twice = fixtures::insert_live_token(&store, "acme", "web").await;
    calls.push((twice, NOW + 3, None));
    calls.push((twice, NOW + 3, None));

    let start = Arc::new(Barrier::new(calls.len()));
    let mut set = JoinSet::new();
    for (id, when, expected) in calls {
        let (store, start) = (store.clone(), start.clone());
        set.spawn(async move {
            start.wait().await;
            (id, expected, store.revoke_token(&id, when).await.unwrap())
        });
    }
    let mut twice_won = 0;
    for (id, expected, answer) in set.join_all().await {
        match expected {
            Some(expected) => assert_eq!(answer, expected, "revoking {id:?}"),
            None => twice_won += usize::from(answer),
        }
    }
    assert_eq!(twice_won, 1, "a token named twice is revoked once");
    for (i, id) in live.iter().enumerate() {
        let stored = store.get_token(id).await.unwrap().unwrap();
        assert_eq!(stored.record.revoked_at, Some(NOW + 10 + i as i64), "each at its own caller's time");
    }
    assert_eq!(store.get_token(&revoked).await.unwrap().unwrap().record.revoked_at, Some(NOW));
}

/// Concurrent reads (batched into one statement on PostgreSQL) each get their own
/// token, and with it the revision of the client they named; a revocation answered
/// before a read is asked for is seen by it.
pub async fn concurrent_reads_each_get_their_own_answer(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let web = fixtures::create_client(&store, "acme", "web").await;
    let api = fixtures::create_client(&store, "acme", "api").await;
    store.update_client(&api).await.unwrap();
    let api_revision = store.get_client("acme", "api").await.unwrap().unwrap().revision;
    assert_ne!(api_revision, web.revision);
    let mut tokens = Vec::new();
    for i in 0..30 {
        let mut token = fixtures::token("acme", if i % 2 == 0 { "web" } else { "api" });
        token.scope = format!("scope-{i}");
        store.insert_tokens(std::slice::from_ref(&token)).await.unwrap();
        tokens.push(token);
    }
    let mut doomed = Vec::new();
    for _ in 0..tokens.len() {
        doomed.push(fixtures::insert_live_token(&store, "acme", "web").await);
    }
    let start = Arc::new(Barrier::new(3 * tokens.len()));
    let mut set = JoinSet::new();
    for ((i, token), doomed) in tokens.iter().cloned().enumerate().zip(doomed) {
        let (s, go, t) = (store.clone(), start.clone(), token.clone());
        set.spawn(async move {
            go.wait().await;
            let stored = s.get_token(&t.id).await.unwrap().expect("stored");
            assert_eq!(stored.record, t);
        });
        let (s, go, t) = (store.clone(), start.clone(), token.clone());
        let (client, expected) = if i % 3 == 0 { ("web", Some(web.revision)) } else { ("api", Some(api_revision)) };
        set.spawn(async move {
            go.wait().await;
            let (stored, revision) = s.get_token_and_client_revision(&t.id, "acme", client).await.unwrap();
            assert_eq!(stored.expect("stored").record, t);
            assert_eq!(revision, expected, "the revision of {client}");
        });
        let (s, go) = (store.clone(), start.clone());
        set.spawn(async move {
            go.wait().await;
            let unknown = fixtures::new_id();
            let (stored, revision) = s.get_token_and_client_revision(&unknown, "acme", "nobody").await.unwrap();
            assert_eq!((stored, revision), (None, None));
            // Revoked, then read at once: the read sees it.
            assert!(s.revoke_token(&doomed, NOW + i as i64).await.unwrap());
            let stored = s.get_token(&doomed).await.unwrap().expect("stored");
            assert_eq!(stored.record.revoked_at, Some(NOW + i as i64));
        });
    }
    set.join_all().await;
}
