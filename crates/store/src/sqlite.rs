//! SQLite: one write connection and a pool of readers, so that writers queue in the
//! process instead of contending for SQLite's lock.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::store::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::time::Instant;

use crate::StoreOptions;
use crate::group_commit::{GroupCommit, PendingToken, WriteBatch};
use crate::shared::{impl_store, migrate_error, non_database_error, unique_violation, with_context};
use crate::sqlite_direct::DirectSqlite;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file (or `sqlite::memory:`). Every write and every transaction
/// goes through a pool of exactly one connection; reads go through a pool of
/// read-only (`query_only`) connections.
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    token_writer: GroupCommit,
    /// The hot path without sqlx (`crate::sqlite_direct`); `None` for an in-memory
    /// database, which other connections cannot open.
    direct: Option<DirectSqlite>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite:PATH`,
    /// `sqlite://PATH` or `sqlite::memory:`) and brings its schema up to date.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| with_context(map_err(e), "invalid SQLite URL"))?
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

        // In-memory databases do not do WAL, so separate readers would only wait on
        // the writer's table locks (SQLITE_LOCKED): there, the writer reads too.
        let in_memory = is_in_memory(url);
        let read = if in_memory {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(base.clone().pragma("query_only", "ON"))
                .await
                .map_err(|e| with_context(map_err(e), &ctx))?
        };
        tracing::info!(backend = "sqlite", path, "database ready");
        let pool = write.clone();
        let batch: WriteBatch = Arc::new(move |rows: Vec<PendingToken>| {
            let pool = pool.clone();
            Box::pin(async move {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
                let written = store_impl::insert_pending_in(&mut tx, &rows).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(written)
            })
        });
        let direct = match in_memory {
            true => None,
            false => Some(
                DirectSqlite::open(
                    base.get_filename().to_owned(),
                    options.sqlite_busy_timeout,
                    options.max_connections.max(1) as usize,
                    options.sqlite_write_linger,
                    options.sqlite_synchronous,
                    options.sqlite_write_queue,
                )
                .map_err(|e| with_context(e, &ctx))?,
            ),
        };
        Ok(Self { read, write, token_writer: GroupCommit::spawn(batch), direct })
    }

    fn direct(&self) -> Option<&DirectSqlite> {
        self.direct.as_ref()
    }

    /// Readiness beyond a round trip: the writer thread must be running.
    fn check_writers(&self) -> StoreResult<()> {
        self.token_writer.check_running()?;
        self.direct.as_ref().map_or(Ok(()), DirectSqlite::check_writer)
    }

    /// Stops the writer thread from taking writes until the returned sender is dropped:
    /// writes queue up meanwhile, as behind a slow commit.
    #[cfg(feature = "testing")]
    pub fn pause_writer(&self) -> std::sync::mpsc::Sender<()> {
        self.direct.as_ref().expect("a SQLite file, not an in-memory database").writer().pause()
    }

    /// Makes the writer thread panic between batches, as a bug outside any job would.
    #[cfg(feature = "testing")]
    pub fn crash_writer(&self) {
        self.direct.as_ref().expect("a SQLite file, not an in-memory database").writer().crash();
    }

    fn purges(&self) -> &'static [crate::sql::Purge] {
        crate::sql::PURGES_SQLITE
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    /// IMMEDIATE takes the write lock up front, so a transaction never has to upgrade
    /// a read lock, which SQLite refuses with SQLITE_BUSY instead of waiting when
    /// another process (the CLI, say) wrote in between.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.write.begin_with("BEGIN IMMEDIATE").await
    }
}

impl_store!(SqliteStore, Sqlite, "sqlite", super::map_err);

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
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
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

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Unique,
    Unavailable,
    Other,
}

// SQLite result codes; the extended ones carry the primary one in their low byte.
const BUSY: i32 = 5;
const LOCKED: i32 = 6;
const IOERR: i32 = 10;
const CANTOPEN: i32 = 14;
const PROTOCOL: i32 = 15;
const CONSTRAINT_PRIMARYKEY: i32 = 1555;
const CONSTRAINT_UNIQUE: i32 = 2067;

/// By SQLite extended result code.
pub(crate) fn classify(code: i32) -> Class {
    match code {
        CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE => Class::Unique,
        _ => match code & 0xff {
            BUSY | LOCKED | IOERR | CANTOPEN | PROTOCOL => Class::Unavailable,
            _ => Class::Other,
        },
    }
}

/// The one place where sqlx's SQLite errors become `StoreError`s.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &e else {
        return non_database_error(e);
    };
    let code = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
    match classify(code) {
        Class::Unique => {
            let msg = db.message();
            unique_violation(msg.strip_prefix("UNIQUE constraint failed: ").unwrap_or(msg))
        }
        Class::Unavailable => StoreError::Unavailable(db.to_string()),
        Class::Other => StoreError::Backend(db.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_are_classified() {
        assert_eq!(classify(1555), Class::Unique);
        assert_eq!(classify(2067), Class::Unique);
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_READ,
        // SQLITE_CANTOPEN.
        for code in [5, 517, 6, 266, 14] {
            assert_eq!(classify(code), Class::Unavailable, "{code}");
        }
        // SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_CONSTRAINT_CHECK, SQLITE_ERROR.
        for code in [787, 275, 1] {
            assert_eq!(classify(code), Class::Other, "{code}");
        }
    }

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
        assert_eq!(store.write.options().get_max_connections(), 1);
        assert_eq!(store.read.options().get_max_connections(), 3);

        let mut writer = store.write.acquire().await.unwrap();
        // Held at once, so that they are three distinct connections.
        let mut readers = Vec::new();
        for _ in 0..3 {
            readers.push(store.read.acquire().await.unwrap());
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
            sqlx::query_as("SELECT $2, $1, $2").bind("one").bind("two").fetch_one(store.reader()).await.unwrap();
        assert_eq!(row, ("two".to_owned(), "one".to_owned(), "two".to_owned()));
    }

    #[tokio::test]
    async fn unique_violations_name_the_clash() {
        let store = SqliteStore::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        let insert = "INSERT INTO settings (name, value) VALUES ('a', x'00')";
        sqlx::query(insert).execute(store.writer()).await.unwrap();
        let e = sqlx::query(insert).execute(store.writer()).await.unwrap_err();
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
