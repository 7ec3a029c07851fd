//! Where a case runs: a fresh SQLite file, or a fresh PostgreSQL database.

use std::future::Future;
use std::sync::Arc;

use portcullis_core::store::Store;
use portcullis_store::testing::TestDatabase;
use portcullis_store::{StoreOptions, connect};

/// Small pools: PostgreSQL cases run in parallel and share the server's
/// `max_connections`.
pub fn options() -> StoreOptions {
    StoreOptions { max_connections: 4, ..StoreOptions::default() }
}

pub async fn open(url: &str) -> Arc<dyn Store> {
    connect(url, &options()).await.unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Runs `case` with the URL of a new SQLite file in a temporary directory.
pub async fn sqlite<F, Fut>(case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
    case(url).await;
}

/// Runs `case` with the URL of a new PostgreSQL database, dropped afterwards even if
/// the case panics.
pub async fn postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::create(name).await else { return };
    // Spawned so that a panicking case still reaches the drop below.
    let outcome = tokio::spawn(case(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
