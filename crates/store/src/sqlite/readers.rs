//! Read connections used synchronously, on the caller's own thread.
//!
//! A point select on SQLite is short; sqlx runs every statement on the connection's
//! worker thread, and on one core the two context switches of that hand-off cost
//! several times the query itself (bench/README.md, "Profiling"). A read here blocks
//! the async worker only for the statement.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use portcullis_core::store::StoreResult;
use rusqlite::{Connection, OpenFlags};

use super::errors::map_rusqlite as map_err;

use super::statements::STATEMENT_CACHE;

pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    /// Connections not in use. More are opened when all are busy (at most one per
    /// thread that reads at once); at most `keep` are kept.
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration, keep: usize) -> StoreResult<Self> {
        let readers = Self { path, busy_timeout, idle: Mutex::new(Vec::new()), keep: keep.max(1) };
        // Fail at start-up, not on the first request, when the file cannot be read.
        let first = readers.open()?;
        readers.idle.lock().unwrap_or_else(|p| p.into_inner()).push(first);
        Ok(readers)
    }

    fn open(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(map_err)?;
        conn.busy_timeout(self.busy_timeout).map_err(map_err)?;
        conn.pragma_update(None, "query_only", "ON").map_err(map_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `read` on an idle connection (opening one if none is idle).
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
        result
    }
}
