//! Where a case runs: a fresh SQLite file, or a fresh PostgreSQL database.

use std::future::Future;
use std::sync::Arc;

use portcullis_core::store::Store;
use portcullis_store::{StoreOptions, connect};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const PG_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

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
    let Some(base) = postgres_url(name) else { return };
    let db = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| panic!("connect to {PG_URL_VAR}: {e}"));
    // The name is ours (hex only), never user input.
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await.unwrap();

    // Spawned so that a panicking case still reaches the DROP below.
    let outcome = tokio::spawn(case(with_database(&base, &db))).await;

    // FORCE: the case's pool may still be closing its connections.
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {db} WITH (FORCE)"))).execute(&mut admin).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn postgres_url(case: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is required in CI: set {PG_URL_VAR} (case {case})")
        }
        _ => {
            println!("{PG_URL_VAR} is unset: PostgreSQL case {case} skipped");
            None
        }
    }
}

/// `url` with its database replaced by `db`, query string kept.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority..].find('/') {
        Some(i) => &head[..authority + i],
        None => head,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

#[test]
fn database_is_replaced_in_urls() {
    assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    assert_eq!(with_database("postgresql://u:p@h/test?sslmode=disable", "x"), "postgresql://u:p@h/x?sslmode=disable");
}
