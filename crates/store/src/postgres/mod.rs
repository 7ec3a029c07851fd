//! PostgreSQL: one pool, shared by every instance of the server.
//!
//! Token inserts from concurrent requests are batched into one statement
//! ([`group_commit`]); the other hot calls (codes, refresh rotation, revocation, token,
//! client, grant and user lookups) have their own bodies in the role files; the cold
//! calls run the shared sqlx code ([`cold`]). One file per role: [`admin`],
//! [`clients`], [`tokens`], [`grants`], [`users`], [`throttle`].

mod admin;
mod admin_tokens;
mod clients;
mod cold;
mod errors;
mod grants;
mod group_commit;
mod orgs;
mod throttle;
mod tokens;
mod users;

use std::str::FromStr;
use std::sync::Arc;

use portcullis_core::model::TokenRecord;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::{ConnectOptions, Connection};

use crate::cold::Pools;
use crate::errors::{migrate_error, with_context};
use crate::{STARTUP_TIMEOUT, StoreOptions};
use errors::map_err;
use group_commit::{GroupCommit, PendingToken, WriteBatch};

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
    pools: Pools<Postgres>,
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
        Ok(Self { pools: Pools::new(pool.clone(), pool, "BEGIN"), token_writer: GroupCommit::spawn(batch) })
    }
}
