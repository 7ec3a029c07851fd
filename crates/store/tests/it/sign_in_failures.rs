//! Sign-in failure counters: conditional reservations, releases and unlocking.

use std::sync::Arc;

use portcullis_core::store::{FailureCount, FailureKey, Store};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::NOW;

const WINDOW: i64 = 60;

fn key(realm: &str, account: &str, address: &str) -> FailureKey {
    FailureKey { realm: realm.into(), account: account.into(), address: address.into() }
}

async fn failures(store: &Arc<dyn Store>, k: &FailureKey, now: i64) -> u32 {
    store.sign_in_failures(k, now, WINDOW).await.unwrap()
}

/// The failures each reservation leaves, or `None` when refused.
async fn reserve(store: &Arc<dyn Store>, limits: &[(FailureKey, u32)], now: i64) -> Option<Vec<u32>> {
    let counts = store.reserve_sign_in_failure(limits, now, WINDOW).await.unwrap();
    counts.map(|c| c.iter().map(|c| c.failures).collect())
}

pub async fn failures_are_reserved_up_to_the_limit_per_window(store: Arc<dyn Store>) {
    let pair = key("acme", "alice", "192.0.2.1");
    assert_eq!(failures(&store, &pair, NOW).await, 0);
    let counts = store.reserve_sign_in_failure(&[(pair.clone(), 3)], NOW, WINDOW).await.unwrap();
    assert_eq!(counts, Some(vec![FailureCount { failures: 1, window_start: NOW }]));
    assert_eq!(reserve(&store, &[(pair.clone(), 3)], NOW + 1).await, Some(vec![2]));
    assert_eq!(reserve(&store, &[(pair.clone(), 3)], NOW + WINDOW - 1).await, Some(vec![3]));
    assert_eq!(reserve(&store, &[(pair.clone(), 3)], NOW + WINDOW - 1).await, None, "at the limit");
    assert_eq!(failures(&store, &pair, NOW + WINDOW - 1).await, 3);
    // Keys are apart, and exact (no case folding or trimming).
    for other in [
        key("acme", "alice", "192.0.2.2"),
        key("acme", "Alice", "192.0.2.1"),
        key("beta", "alice", "192.0.2.1"),
        key("acme", "alice", ""),
        key("acme", "", "192.0.2.1"),
        key("acme", "alice\u{1f980}' OR 1=1 --", "192.0.2.1"),
    ] {
        assert_eq!(reserve(&store, &[(other.clone(), 3)], NOW).await, Some(vec![1]), "{other:?}");
    }
    // The window began at NOW; at NOW + WINDOW it is over and counting starts again in
    // a window that begins then, so the counter is open again.
    assert_eq!(failures(&store, &pair, NOW + WINDOW).await, 0);
    let counts = store.reserve_sign_in_failure(&[(pair.clone(), 3)], NOW + WINDOW, WINDOW).await.unwrap();
    assert_eq!(counts, Some(vec![FailureCount { failures: 1, window_start: NOW + WINDOW }]));
    assert_eq!(failures(&store, &pair, NOW + WINDOW).await, 1);
    // A limit high enough never refuses: the per-account counter.
    let account = key("acme", "bob", "");
    for n in 1..=5 {
        assert_eq!(reserve(&store, &[(account.clone(), u32::MAX)], NOW).await, Some(vec![n]));
    }
}

pub async fn a_refused_reservation_writes_nothing(store: Arc<dyn Store>) {
    let (pair, address) = (key("acme", "alice", "192.0.2.1"), key("acme", "", "192.0.2.1"));
    let limits = [(pair.clone(), 2), (address.clone(), 100)];
    assert_eq!(reserve(&store, &limits, NOW).await, Some(vec![1, 1]));
    assert_eq!(reserve(&store, &limits, NOW).await, Some(vec![2, 2]));
    for _ in 0..5 {
        assert_eq!(reserve(&store, &limits, NOW).await, None);
    }
    assert_eq!(failures(&store, &address, NOW).await, 2, "the address was not counted for refused attempts");
    // The address at its limit refuses a pair that is not, and counts nothing on it.
    let other_pair = key("acme", "bob", "192.0.2.1");
    let limits = [(other_pair.clone(), 10), (address.clone(), 2)];
    assert_eq!(reserve(&store, &limits, NOW).await, None);
    assert_eq!(failures(&store, &other_pair, NOW).await, 0);
}

pub async fn a_release_takes_back_one_failure_of_its_window(store: Arc<dyn Store>) {
    let (pair, address) = (key("acme", "alice", "192.0.2.1"), key("acme", "", "192.0.2.1"));
    let limits = [(pair.clone(), 10), (address.clone(), 100)];
    assert_eq!(reserve(&store, &limits, NOW).await, Some(vec![1, 1]));
    assert_eq!(reserve(&store, &[(address.clone(), 100)], NOW).await, Some(vec![2]));
    store.release_sign_in_failure(&[(pair.clone(), NOW), (address.clone(), NOW)]).await.unwrap();
    assert_eq!(failures(&store, &pair, NOW).await, 0);
    assert_eq!(failures(&store, &address, NOW).await, 1);
    // A release never goes below zero, and one for a window that is over (the counter
    // started again since) takes nothing from the new window.
    store.release_sign_in_failure(&[(pair.clone(), NOW)]).await.unwrap();
    assert_eq!(reserve(&store, &[(pair.clone(), 10)], NOW).await, Some(vec![1]));
    assert_eq!(reserve(&store, &[(address.clone(), 100)], NOW + WINDOW).await, Some(vec![1]));
    store.release_sign_in_failure(&[(address.clone(), NOW)]).await.unwrap();
    assert_eq!(failures(&store, &address, NOW + WINDOW).await, 1);
    store.release_sign_in_failure(&[(key("acme", "nobody", "x"), NOW)]).await.unwrap();
}

pub async fn unlocking_clears_an_account_from_every_address(store: Arc<dyn Store>) {
    let kept = [key("acme", "bob", "192.0.2.1"), key("acme", "", "192.0.2.1"), key("beta", "alice", "192.0.2.1")];
    let cleared = [key("acme", "alice", "192.0.2.1"), key("acme", "alice", "192.0.2.2"), key("acme", "alice", "")];
    for k in kept.iter().chain(&cleared) {
        reserve(&store, &[(k.clone(), 10)], NOW).await.unwrap();
    }
    assert_eq!(store.clear_sign_in_failures("acme", "alice").await.unwrap(), 3);
    for k in &cleared {
        assert_eq!(failures(&store, k, NOW).await, 0, "{k:?}");
    }
    for k in &kept {
        assert_eq!(failures(&store, k, NOW).await, 1, "{k:?}");
    }
    assert_eq!(store.clear_sign_in_failures("acme", "alice").await.unwrap(), 0);
}

pub async fn a_concurrent_burst_never_passes_the_limit(store: Arc<dyn Store>) {
    const RACERS: usize = 40;
    const LIMIT: u32 = 10;
    let start = Arc::new(Barrier::new(RACERS));
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            start.wait().await;
            let limits = [(key("acme", "alice", "192.0.2.1"), LIMIT), (key("acme", "", "192.0.2.1"), 1000)];
            store.reserve_sign_in_failure(&limits, NOW, WINDOW).await.unwrap()
        });
    }
    let mut admitted: Vec<u32> = racers.join_all().await.into_iter().flatten().map(|c| c[0].failures).collect();
    admitted.sort_unstable();
    assert_eq!(admitted, (1..=LIMIT).collect::<Vec<_>>(), "each admitted once, exactly up to the limit");
    assert_eq!(failures(&store, &key("acme", "", "192.0.2.1"), NOW).await, LIMIT, "refusals counted nothing");
}
