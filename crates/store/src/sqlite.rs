//! SQLite: one write connection and a pool of readers, so that writers queue in the
//! process instead of contending for SQLite's lock.

use std::str::FromStr;

use portcullis_core::store::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::shared::{impl_store, migrate_error, non_database_error, unique_violation, with_context};
use crate::{ACQUIRE_TIMEOUT, StoreOptions};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database file (or `sqlite::memory:`). Every write and every transaction
/// goes through a pool of exactly one connection; reads go through a pool of
/// read-only (`query_only`) connections.
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
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

        // The writer stays open for good: an in-memory database lives only as long as
        // its last connection, and a file keeps its WAL index mapped.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(
                base.clone()
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal),
            )
            .await
            .map_err(|e| with_context(map_err(e), &ctx))?;
        MIGRATOR
            .run(&write)
            .await
            .map_err(|e| with_context(migrate_error(e, map_err), &ctx))?;

        // In-memory databases do not do WAL, so separate readers would only wait on
        // the writer's table locks (SQLITE_LOCKED): there, the writer reads too.
        let read = if is_in_memory(url) {
            write.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(base.pragma("query_only", "ON"))
                .await
                .map_err(|e| with_context(map_err(e), &ctx))?
        };
        tracing::info!(backend = "sqlite", path, "database ready");
        Ok(Self { read, write })
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

/// Mirrors how sqlx recognises an in-memory SQLite URL.
fn is_in_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unique,
    Unavailable,
    Other,
}

/// By SQLite extended result code.
fn classify(code: i32) -> Class {
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const IOERR: i32 = 10;
    const CANTOPEN: i32 = 14;
    const PROTOCOL: i32 = 15;
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

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://x?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://data/portcullis.db"));
        assert!(!is_in_memory("sqlite:memory.db"));
    }
}
