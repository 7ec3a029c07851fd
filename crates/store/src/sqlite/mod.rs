//! SQLite: one file, one process writing at a time.
//!
//! The hot calls (token, code and refresh writes; token, client, grant and user
//! lookups) run without sqlx: reads synchronously on the caller's thread
//! ([`readers`]), writes as jobs of one writer thread that commits them in groups
//! ([`writer`]), with the statement helpers in [`statements`]. sqlx-sqlite runs each
//! statement on its connection's worker thread, and on one core the context switches of
//! those hand-offs cost several times SQLite's own work (bench/README.md, "Profiling").
//! The cold calls (administration, sign-in, sessions, purge) run on sqlx through
//! [`cold`]: one write connection and a pool of read-only connections, so that writers
//! queue in the process instead of contending for SQLite's lock. Both use the same SQL
//! (`crate::sql`) and row conversions (`crate::rows`).
//!
//! One file per role: [`admin`], [`clients`], [`tokens`], [`grants`], [`users`],
//! [`throttle`].

mod admin;
mod admin_tokens;
mod audit;
mod browser_flow;
mod clients;
mod cold;
mod errors;
mod grants;
mod orgs;
mod readers;
mod signing_keys;
mod statements;
mod throttle;
mod token_inserts;
mod tokens;
mod users;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use portcullis_core::store::StoreResult;
use rusqlite::{Connection, OpenFlags};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::time::Instant;

use crate::StoreOptions;
use crate::cold::Pools;
use crate::errors::{migrate_error, with_context};
use crate::hot_tokens::HotTokens;
use errors::{BUSY, map_err, map_rusqlite};
use readers::Readers;
use writer::Writer;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file, or an in-memory database (`sqlite::memory:`), which is a
/// private file in a temporary directory in memory (`/dev/shm` where there is one),
/// deleted with the store: the hot path's connections and sqlx's must all open it,
/// and a true in-memory database is visible to one connection only (or, shared-cache,
/// without WAL and with table locks that readers would wait on).
pub struct SqliteStore {
    pools: Pools<Sqlite>,
    readers: Readers,
    writer: Writer,
    hot_tokens: HotTokens,
    /// Declared last, so it is deleted after every connection has closed.
    _memory: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite:PATH`,
    /// `sqlite://PATH` or `sqlite::memory:`) and brings its schema up to date.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let memory = if is_in_memory(url) { Some(memory_dir()?) } else { None };
        let named = match &memory {
            Some(dir) => SqliteConnectOptions::new().filename(dir.path().join("memory.db")),
            None => SqliteConnectOptions::from_str(url).map_err(|e| with_context(map_err(e), "invalid SQLite URL"))?,
        };
        let base = named
            .create_if_missing(true)
            // sqlx turns these on by default; they are spelled out because the
            // cascades and the single-writer design depend on them.
            .foreign_keys(true)
            .busy_timeout(options.sqlite_busy_timeout);
        let path = base.get_filename().display().to_string();
        let ctx = format!("cannot open SQLite database {path}");

        let write = open_writer(
            base.clone().journal_mode(SqliteJournalMode::Wal).synchronous(match options.sqlite_synchronous {
                crate::SqliteSynchronous::Full => SqliteSynchronous::Full,
                crate::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            }),
            options.sqlite_busy_timeout,
            options.acquire_timeout,
        )
        .await
        .map_err(|e| with_context(map_err(e), &ctx))?;
        migrate(&write).await.map_err(|e| with_context(e, &ctx))?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            // No reaper: sqlx's maintenance task can read a wrapped idle count and spin
            // a worker at 100% CPU for good (sqlx#3645; seen here as a hung CLI command
            // in the test suite), and connections to a local file need no recycling.
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(options.acquire_timeout)
            // Opened on first use: the writer above has shown the file opens, and an
            // eager open here would fail the start-up after `acquire_timeout` on a
            // starved machine, where the writer's open waits (`open_writer`).
            .connect_lazy_with(base.clone().pragma("query_only", "ON"));
        let readers =
            Readers::new(base.get_filename().to_owned(), options.sqlite_busy_timeout, read_connections(options))
                .map_err(|e| with_context(e, &ctx))?;
        let writer = open_hot_writer(base.get_filename(), options).map_err(|e| with_context(e, &ctx))?;
        let pools = Pools::new(read, write, "BEGIN IMMEDIATE", options.at_rest.clone());
        crate::sealing::log_report(cold::check_at_rest(&pools).await.map_err(|e| with_context(e, &ctx))?);
        tracing::info!(backend = "sqlite", path, "database ready");
        Ok(Self { pools, readers, writer, hot_tokens: HotTokens::default(), _memory: memory })
    }

    /// `keys rewrap`: every private key and the pepper sealed under `to` instead.
    pub async fn rewrap(&self, to: &portcullis_core::at_rest::AtRest) -> StoreResult<usize> {
        cold::reseal(&self.pools, to).await
    }

    /// Readiness beyond a round trip: the writer thread must be running.
    fn check_writer(&self) -> StoreResult<()> {
        self.writer.check_running()
    }

    /// Stops the writer thread from taking writes until the returned sender is dropped:
    /// writes queue up meanwhile, as behind a slow commit.
    #[cfg(feature = "testing")]
    pub fn pause_writer(&self) -> std::sync::mpsc::Sender<()> {
        self.writer.pause()
    }

    /// Makes the writer thread panic between batches, as a bug outside any job would.
    #[cfg(feature = "testing")]
    pub fn crash_writer(&self) {
        self.writer.crash();
    }
}

fn read_connections(options: &StoreOptions) -> usize {
    options.max_connections.max(1) as usize
}

/// The hot path's writer thread on its own connection to the (migrated, WAL) file.
fn open_hot_writer(path: &Path, options: &StoreOptions) -> StoreResult<Writer> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(map_rusqlite)?;
    conn.busy_timeout(options.sqlite_busy_timeout).map_err(map_rusqlite)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(map_rusqlite)?;
    // As on sqlx's writer (see `SqliteSynchronous`).
    conn.pragma_update(None, "synchronous", options.sqlite_synchronous.pragma()).map_err(map_rusqlite)?;
    conn.set_prepared_statement_cache_capacity(statements::STATEMENT_CACHE);
    Writer::spawn(conn, options.sqlite_write_queue)
}

/// A fresh directory for an in-memory database: in `/dev/shm` (memory) where it
/// exists, else in the temporary directory.
fn memory_dir() -> StoreResult<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("portcullis-memory-");
        b
    };
    let dir = if shm.is_dir() { builder.tempdir_in(shm) } else { builder.tempdir() };
    dir.map_err(|e| portcullis_core::store::StoreError::Backend(format!("cannot create an in-memory database: {e}")))
}

/// The writer stays open for good: an in-memory database lives only as long as its
/// last connection, and a file keeps its WAL index mapped.
///
/// Opening is retried on SQLITE_BUSY for up to `patience`: two connections switching a
/// new file to WAL at once each hold a shared lock and want an exclusive one, and
/// SQLite fails one of them at once instead of letting the busy timeout deadlock them.
async fn open_writer(
    options: SqliteConnectOptions,
    patience: Duration,
    acquire_timeout: Duration,
) -> Result<SqlitePool, sqlx::Error> {
    let deadline = Instant::now() + patience;
    loop {
        let attempt = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await;
        match attempt {
            // Busy: another process holds the file. Timed out: opening the file took
            // longer than `acquire_timeout` (a request's patience, 1 s), as it can on a
            // machine starved of CPU (seen in the test suite beside a fuzzer); at
            // start-up the server waits for it as for a busy file.
            Err(e) if (is_busy(&e) || matches!(e, sqlx::Error::PoolTimedOut)) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            done => return done,
        }
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|db| db.code()).and_then(|c| c.parse::<i32>().ok());
    code.is_some_and(|c| c & 0xff == BUSY)
}

/// Under the write lock: sqlx takes no lock on SQLite, so two processes opening a new
/// file at once would both find the schema missing and both try to create it. The
/// migrator's own transactions become savepoints inside this one.
async fn migrate(write: &SqlitePool) -> StoreResult<()> {
    let mut tx = write.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    // `run_direct` rather than `run`: `run` on a `&mut` connection makes this future
    // (and so `connect`'s) not `Send` ("implementation of `Acquire` is not general
    // enough"); sqlx exposes `run_direct` to get around exactly that.
    MIGRATOR.run_direct(None, &mut *tx, false).await.map_err(|e| migrate_error(e, map_err))?;
    tx.commit().await.map_err(map_err)
}

/// Mirrors how sqlx recognises an in-memory SQLite URL.
fn is_in_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

#[cfg(test)]
mod tests {
    use portcullis_core::store::StoreError;

    use super::*;

    async fn pragma<T>(conn: &mut sqlx::SqliteConnection, name: &'static str) -> T
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        sqlx::query_scalar(name).fetch_one(conn).await.unwrap()
    }

    #[tokio::test]
    async fn every_connection_of_both_pools_is_configured() {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let options =
            StoreOptions { sqlite_busy_timeout: Duration::from_millis(1234), max_connections: 3, ..Default::default() };
        let store = SqliteStore::connect(&url, &options).await.unwrap();
        assert_eq!(store.pools.write.options().get_max_connections(), 1);
        assert_eq!(store.pools.read.options().get_max_connections(), 3);

        let mut writer = store.pools.write.acquire().await.unwrap();
        // Held at once, so that they are three distinct connections.
        let mut readers = Vec::new();
        for _ in 0..3 {
            readers.push(store.pools.read.acquire().await.unwrap());
        }
        assert_eq!(pragma::<String>(&mut writer, "PRAGMA journal_mode").await, "wal");
        assert_eq!(pragma::<i64>(&mut writer, "PRAGMA synchronous").await, 1, "NORMAL by default");
        assert_eq!(pragma::<i64>(&mut writer, "PRAGMA query_only").await, 0);
        for conn in std::iter::once(&mut writer).chain(readers.iter_mut()) {
            assert_eq!(pragma::<i64>(conn, "PRAGMA foreign_keys").await, 1);
            assert_eq!(pragma::<i64>(conn, "PRAGMA busy_timeout").await, 1234);
        }
        for conn in &mut readers {
            assert_eq!(pragma::<i64>(conn, "PRAGMA query_only").await, 1);
            let write = sqlx::query("INSERT INTO settings (name, value) VALUES ('x', x'00')");
            assert!(write.execute(&mut **conn).await.is_err(), "a reader wrote");
        }
    }

    /// The shared SQL uses PostgreSQL's `$n`; SQLite must bind `$n` to the n-th
    /// argument, including out of order and repeated.
    #[tokio::test]
    async fn dollar_placeholders_bind_by_number() {
        let store = SqliteStore::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        let row: (String, String, String) =
            sqlx::query_as("SELECT $2, $1, $2").bind("one").bind("two").fetch_one(&store.pools.read).await.unwrap();
        assert_eq!(row, ("two".to_owned(), "one".to_owned(), "two".to_owned()));
    }

    #[tokio::test]
    async fn unique_violations_name_the_clash() {
        let store = SqliteStore::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        let insert = "INSERT INTO settings (name, value) VALUES ('a', x'00')";
        sqlx::query(insert).execute(&store.pools.write).await.unwrap();
        let e = sqlx::query(insert).execute(&store.pools.write).await.unwrap_err();
        assert!(matches!(map_err(e), StoreError::Conflict(m) if m.contains("setting")));
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://x?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://data/portcullis.db"));
        assert!(!is_in_memory("sqlite:memory.db"));
    }
}
