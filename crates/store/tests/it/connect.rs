//! Connecting, and what is specific to one backend.

use std::time::{Duration, Instant};

use portcullis_core::store::StoreError;
use portcullis_store::{StoreOptions, connect};
use sqlx::{Connection, SqliteConnection};

use crate::fixtures::{self, NOW};
use crate::harness;

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_hides_the_password() {
    let started = Instant::now();
    let url = "postgres://portcullis:hunter2@127.0.0.1:1/portcullis";
    match connect(url, &StoreOptions::default()).await {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("127.0.0.1:1"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    // Refused at once, not retried until a pool timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn missing_postgres_database_is_reported() {
    harness::postgres("missing_postgres_database_is_reported", |url| async move {
        let missing = portcullis_store::testing::with_database(&url, "portcullis_no_such_database");
        match connect(&missing, &StoreOptions::default()).await {
            Err(StoreError::Backend(msg)) => {
                assert!(msg.contains("portcullis_no_such_database"), "{msg}")
            }
            other => panic!("expected Backend, got {:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_names_the_path() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("no/such/dir/portcullis.db");
    let url = format!("sqlite://{}", path.display());
    match connect(&url, &StoreOptions::default()).await {
        Err(StoreError::Unavailable(msg) | StoreError::Backend(msg)) => {
            assert!(msg.contains(&path.display().to_string()), "{msg}")
        }
        other => panic!("expected an error, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn sqlite_file_is_created_under_either_url_form() {
    let dir = tempfile::TempDir::new().unwrap();
    for (url, file) in [
        (format!("sqlite://{}", dir.path().join("a.db").display()), "a.db"),
        (format!("sqlite:{}", dir.path().join("b.db").display()), "b.db"),
    ] {
        let store = harness::open(&url).await;
        assert_eq!(store.backend(), "sqlite");
        fixtures::create_realm(&store, "acme").await;
        assert!(dir.path().join(file).exists(), "{url}");
    }
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = harness::open("sqlite::memory:").await;
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let id = fixtures::insert_live_token(&store, "acme", "web").await;
    assert!(store.revoke_token(&id, NOW).await.unwrap());
    assert_eq!(store.list_clients("acme").await.unwrap().len(), 1);

    // Each in-memory URL is a database of its own.
    let other = harness::open("sqlite::memory:").await;
    assert!(other.list_realms().await.unwrap().is_empty());
}

/// Another process holding SQLite's write lock past the busy timeout makes writes
/// `Unavailable` (retryable), while reads go on from the WAL.
#[tokio::test]
async fn sqlite_lock_held_elsewhere_is_unavailable() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
    let options =
        StoreOptions { sqlite_busy_timeout: Duration::from_millis(100), max_connections: 2, ..Default::default() };
    let store = connect(&url, &options).await.unwrap();
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    let id = fixtures::insert_live_token(&store, "acme", "web").await;

    let mut other = SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();

    let busy = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Unavailable(_)));
    assert!(busy(store.revoke_token(&id, NOW).await.map(|_| ())));
    assert!(busy(store.create_realm(&fixtures::realm("beta"), &fixtures::key("beta", "b", NOW)).await));
    assert!(store.get_realm("acme").await.unwrap().is_some());

    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    assert!(store.revoke_token(&id, NOW).await.unwrap());
}
