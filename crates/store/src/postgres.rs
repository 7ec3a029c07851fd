//! PostgreSQL: one pool; the server serializes what needs serializing.

use std::str::FromStr;
use std::sync::Arc;

use portcullis_core::model::TokenRecord;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::{ConnectOptions, Connection};

use crate::group_commit::{GroupCommit, PendingToken, WriteBatch};
use crate::shared::{impl_store, migrate_error, non_database_error, unique_violation, with_context};
use crate::{STARTUP_TIMEOUT, StoreOptions};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Inserts `rows` with one statement (and so atomically, without a transaction
/// around it): a batch costs one round trip and one commit whatever its size. A row
/// whose client is no longer at its expected revision is left out, and reported so.
async fn insert_many(pool: &PgPool, rows: &[PendingToken]) -> StoreResult<Vec<bool>> {
    let column = |f: fn(&TokenRecord) -> Option<Vec<u8>>| rows.iter().map(|(t, _)| f(t)).collect::<Vec<_>>();
    let text = |f: fn(&TokenRecord) -> String| rows.iter().map(|(t, _)| f(t)).collect::<Vec<_>>();
    let int = |f: fn(&TokenRecord) -> Option<i64>| rows.iter().map(|(t, _)| f(t)).collect::<Vec<_>>();
    let permissions = rows
        .iter()
        .map(|(t, _)| crate::rows::join(&t.permissions, crate::rows::SPACE, "permission"))
        .collect::<StoreResult<Vec<_>>>()?;
    let written: Vec<Vec<u8>> = sqlx::query_scalar(crate::sql::TOKEN_INSERT_MANY_PG)
        .bind(rows.iter().map(|(t, _)| t.id.to_vec()).collect::<Vec<_>>())
        .bind(text(|t| t.realm.clone()))
        .bind(text(|t| t.kind.as_str().to_owned()))
        .bind(column(|t| t.verifier_hash.map(|h| h.to_vec())))
        .bind(text(|t| t.client_id.clone()))
        .bind(text(|t| t.subject.clone()))
        .bind(rows.iter().map(|(t, _)| t.username.clone()).collect::<Vec<_>>())
        .bind(text(|t| t.scope.clone()))
        .bind(column(|t| t.grant_id.map(|g| g.to_vec())))
        .bind(permissions)
        .bind(rows.iter().map(|(t, _)| t.test).collect::<Vec<_>>())
        .bind(rows.iter().map(|(t, _)| t.issued_at).collect::<Vec<_>>())
        .bind(int(|t| t.expires_at))
        .bind(int(|t| t.revoked_at))
        .bind(int(|t| t.used_at))
        .bind(rows.iter().map(|(_, expected)| *expected).collect::<Vec<_>>())
        .fetch_all(pool)
        .await
        .map_err(map_err)?;
    Ok(rows.iter().map(|(t, _)| written.iter().any(|id| id[..] == t.id[..])).collect())
}

/// A PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
    token_writer: GroupCommit,
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`) and brings the schema up
    /// to date.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| with_context(map_err(e), "invalid PostgreSQL URL"))?;
        // Named without the password, which the URL may hold.
        let target = format!(
            "{}@{}:{}/{}",
            opts.get_username(),
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or(opts.get_username())
        );
        let ctx = format!("cannot connect to PostgreSQL at {target}");

        // One direct connection first: a pool retries a refused connection until its
        // acquire timeout and then reports only that it timed out.
        let mut conn = tokio::time::timeout(STARTUP_TIMEOUT, opts.connect())
            .await
            .map_err(|_| StoreError::Unavailable(format!("{ctx}: no answer within {STARTUP_TIMEOUT:?}")))?
            .map_err(|e| with_context(map_err(e), &ctx))?;
        // `run_direct` for the reason given in `sqlite::migrate`.
        MIGRATOR
            .run_direct(None, &mut conn, false)
            .await
            .map_err(|e| with_context(migrate_error(e, map_err), &target))?;
        // The pool opens its own connections; a failed goodbye changes nothing.
        let _ = conn.close().await;

        // Set at connection start-up, so it costs no round trip; migrations ran
        // without it, as they may legitimately take long.
        let statement_timeout = options.statement_timeout.as_millis().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(opts.options([("statement_timeout", statement_timeout.as_str())]));
        tracing::info!(backend = "postgres", target, "database ready");
        let writer_pool = pool.clone();
        let batch: WriteBatch = Arc::new(move |rows: Vec<PendingToken>| {
            let pool = writer_pool.clone();
            Box::pin(async move { insert_many(&pool, &rows).await })
        });
        Ok(Self { pool, token_writer: GroupCommit::spawn(batch) })
    }

    /// PostgreSQL has no SQLite hot path: sqlx's asynchronous protocol hands nothing
    /// to another thread.
    fn direct(&self) -> Option<&crate::sqlite_direct::DirectSqlite> {
        None
    }

    /// Readiness beyond a round trip: the token writer must be running.
    fn check_writers(&self) -> StoreResult<()> {
        self.token_writer.check_running()
    }

    fn purges(&self) -> &'static [crate::sql::Purge] {
        crate::sql::PURGES_PG
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl_store!(PgStore, Postgres, "postgres", super::map_err);

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unique,
    Unavailable,
    Other,
}

/// By SQLSTATE.
fn classify(sqlstate: &str) -> Class {
    match sqlstate {
        "23505" => Class::Unique,
        // connection_exception and its subclasses
        s if s.starts_with("08") => Class::Unavailable,
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" => Class::Unavailable,
        // out_of_memory, too_many_connections
        "53200" | "53300" => Class::Unavailable,
        // serialization_failure, deadlock_detected: the statement may succeed if retried
        "40001" | "40P01" => Class::Unavailable,
        _ => Class::Other,
    }
}

/// The one place where sqlx's PostgreSQL errors become `StoreError`s.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &e else {
        return non_database_error(e);
    };
    match classify(db.code().as_deref().unwrap_or("")) {
        Class::Unique => unique_violation(db.constraint().unwrap_or("an unnamed constraint")),
        Class::Unavailable => StoreError::Unavailable(db.to_string()),
        Class::Other => StoreError::Backend(db.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        assert_eq!(classify("23505"), Class::Unique);
        for code in ["08000", "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01"] {
            assert_eq!(classify(code), Class::Unavailable, "{code}");
        }
        // foreign_key_violation, check_violation, syntax_error, invalid_password,
        // character_not_in_repertoire (a NUL in TEXT)
        for code in ["23503", "23514", "42601", "28P01", "22021", ""] {
            assert_eq!(classify(code), Class::Other, "{code}");
        }
    }
}
