//! SQLite and PostgreSQL implementations of [`portcullis_core::store::Store`], one wing
//! per database ([`sqlite`], [`postgres`]), each implementing every role trait in a file
//! of its own. What the wings share is only what is truly the same on both: the SQL
//! text ([`sql`]), row conversions ([`rows`]), the cold paths written once against sqlx
//! ([`cold`]), error wording ([`errors`]) and the write hand-off ([`handoff`]).
//!
//! [`connect`] picks the wing from the URL and applies the embedded migrations.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::at_rest::{AtRest, MasterKey};
use portcullis_core::store::{Store, StoreError};

mod admin_tokens;
mod audit;
mod cold;
mod cold_orgs;
mod errors;
mod handoff;
mod hot_tokens;
mod load;
mod orgs_rows;
mod orgs_sql;
mod postgres;
mod rows;
mod sealing;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traced;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// How long start-up waits for the first connection to answer: there is no client
/// waiting yet, and a database that is still starting deserves a moment.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long SQLite waits for a lock held by another process.
    pub sqlite_busy_timeout: Duration,
    /// Size of the PostgreSQL pool, or of SQLite's read pool (it always has exactly
    /// one write connection). 0 counts as 1.
    pub max_connections: u32,
    /// Most writes waiting for SQLite's writer thread; one more is refused at once
    /// with `Unavailable` (503), instead of waiting behind a backlog until its request
    /// times out.
    pub sqlite_write_queue: usize,
    /// How long a caller waits for a pooled connection (which includes opening one)
    /// before `Unavailable`: also how long a request takes to learn that the
    /// database is gone.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` on every pooled connection: the longest a
    /// statement (and so a write a request waits for) may run. Zero: no limit.
    pub statement_timeout: Duration,
    /// What a SQLite commit survives before it is answered.
    pub sqlite_synchronous: SqliteSynchronous,
    /// Private keys and the pepper: sealed under a master key, or (the default, for
    /// tests and PostgreSQL without one) in the clear. See `portcullis_core::at_rest`.
    pub at_rest: AtRest,
}

/// SQLite's `synchronous` setting in WAL mode, i.e. what an answered write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Every commit waits for the WAL to reach the disk (an fsync per commit, which
    /// group commit shares among a batch): a power loss or OS crash keeps everything
    /// that was answered, so a revocation or a spent refresh token never comes back.
    Full,
    /// Commits are durable against a crash of the process but not of the machine: the
    /// last commits before a power loss can roll back. The default, because `Full`
    /// cost more on the write paths than the default was allowed to (README,
    /// "Durability").
    #[default]
    Normal,
}

impl SqliteSynchronous {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(Self::Full),
            "normal" => Some(Self::Normal),
            _ => None,
        }
    }

    /// The value of `PRAGMA synchronous`.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_busy_timeout: Duration::from_secs(5),
            max_connections: 16,
            sqlite_synchronous: SqliteSynchronous::default(),
            sqlite_write_queue: DEFAULT_SQLITE_WRITE_QUEUE,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            at_rest: AtRest::default(),
        }
    }
}

/// See `StoreOptions::sqlite_write_queue`: a fraction of a second of the writer's work
/// on one core (bench/README.md, "Profiling"), and far more than 64 concurrent clients
/// ever have waiting.
pub const DEFAULT_SQLITE_WRITE_QUEUE: usize = 4096;

/// See `StoreOptions::acquire_timeout`: a pool that cannot hand out a connection
/// within a second is overloaded or cut off from its database, and the client is
/// better served by a 503 it can retry than by waiting out its own timeout.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// See `StoreOptions::statement_timeout`: every statement of the server takes
/// milliseconds; five seconds is a stuck lock or a sick database.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the database at `url` and brings its schema up to date:
/// `sqlite:PATH` or `sqlite://PATH` (the file is created if missing; `sqlite::memory:`
/// works too) or `postgres://...` / `postgresql://...`.
pub async fn connect(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, options).await?))
    } else {
        Err(StoreError::Backend(format!(
            "unsupported database URL{}: expected sqlite:PATH, sqlite://PATH, postgres://... \
             or postgresql://...",
            describe_scheme(url)
        )))
    }
}

/// `keys rewrap`: opens the database at `url` with the current master key (in
/// `options`) and seals every private key and the pepper under `new` instead, in one
/// transaction. Returns how many values were rewritten.
pub async fn rewrap(url: &str, options: &StoreOptions, new: MasterKey) -> Result<usize, StoreError> {
    let to = AtRest::new(Some(new));
    if url.starts_with("sqlite:") {
        SqliteStore::connect(url, options).await?.rewrap(&to).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PgStore::connect(url, options).await?.rewrap(&to).await
    } else {
        Err(StoreError::Backend(format!("unsupported database URL{}", describe_scheme(url))))
    }
}

/// The scheme of `url` for an error message. Never the rest: it may hold a password.
fn describe_scheme(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 32
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            format!(" scheme '{scheme}'")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers call `connect` from spawned tasks, which need a `Send` future.
    #[allow(dead_code)]
    fn connect_is_send(options: &StoreOptions) {
        fn send<T: Send>(_: T) {}
        send(connect("", options));
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_without_echoing_the_url() {
        for url in ["mysql://root:hunter2@db/x", "hunter2", "", "SQLITE:x.db"] {
            let Err(StoreError::Backend(msg)) = connect(url, &StoreOptions::default()).await else {
                panic!("{url} was accepted");
            };
            assert!(msg.contains("sqlite:") && msg.contains("postgres://"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }
}
