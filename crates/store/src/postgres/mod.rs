//! PostgreSQL: one database shared by every instance of the server, reached through
//! two pools: the hot paths' batch statements on connections that plan each once
//! ([`BATCH_PLANNING`]), everything else on connections that plan each execution.
//!
//! Every hot call costs at most one round trip. Token inserts, token revocations and
//! token reads from concurrent requests are each batched into one statement
//! ([`group_commit`], running [`batches`]); code redemption and refresh rotation are
//! one statement each on their common path ([`grants`]); the other hot calls
//! (client, grant, user and signing key lookups) are batched the same way; the cold
//! calls run the shared sqlx code ([`cold`]). One file per role: [`admin`],
//! [`clients`], [`tokens`], [`grants`], [`users`], [`throttle`].

mod admin;
mod admin_tokens;
mod audit;
pub(crate) mod batches;
mod browser_flow;
mod clients;
mod cold;
mod errors;
mod grants;
mod group_commit;
mod orgs;
mod throttle;
mod token_arrays;
mod tokens;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::store::{StoreError, StoreResult};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};
use sqlx::{ConnectOptions, Connection};

use crate::cold::Pools;
use crate::errors::{migrate_error, with_context};
use crate::hot_tokens::HotTokens;
use crate::{STARTUP_TIMEOUT, StoreOptions};
use batches::{FoundToken, KeyListing, RealmKey, RedemptionJob, RotationJob, TokenLookup};
use errors::map_err;
use group_commit::{GroupCommit, PendingToken, RunBatch};
use portcullis_core::model::{AuthorizationCode, Client, Grant, SigningKeyRecord, User};
use portcullis_core::org::{Permission, StoredApiKey};

/// A pooled connection idle this long is pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Connections of the hot paths' batch statements: one per group commit of
/// [`PgStore`] (each runs one batch at a time) and one for the audit log's batches.
const HOT_CONNECTIONS: u32 = 14;

/// How the hot paths' batch statements ([`batches`], the audit log's insert) are
/// planned: once per connection, not once per batch (planning each batch was about a
/// third of PostgreSQL's CPU: bench/README.md, *Settings measured*). Each statement
/// joins the batch's arrays to point lookups by primary key or unique index, for
/// which a nested loop over index scans is the right plan whatever the tables' sizes;
/// with the scans and joins that read a whole table disabled, the generic plan made
/// while the tables are empty is that plan, and stays right as they grow (a generic
/// plan made without them scanned `authorization_codes` once it had grown: 0.1 s per
/// batch). The test `postgres_batch_plans_read_indexes_only` reads the plans.
pub(crate) const BATCH_PLANNING: &[(&str, &str)] = &[
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_seqscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
];

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL database.
pub struct PgStore {
    pools: Pools<Postgres>,
    /// The connections of the batch statements, planned as [`BATCH_PLANNING`] says.
    hot: sqlx::PgPool,
    token_writer: GroupCommit<PendingToken, bool>,
    token_revoker: GroupCommit<([u8; 16], i64), bool>,
    token_reader: GroupCommit<TokenLookup, FoundToken>,
    epoch_reader: GroupCommit<(), Option<i64>>,
    hot_tokens: HotTokens,
    refresh_rotator: GroupCommit<RotationJob, bool>,
    code_redeemer: GroupCommit<RedemptionJob, Option<AuthorizationCode>>,
    grant_reader: GroupCommit<[u8; 16], Option<Grant>>,
    code_reader: GroupCommit<[u8; 16], Option<AuthorizationCode>>,
    client_reader: GroupCommit<RealmKey, Option<Client>>,
    user_reader: GroupCommit<RealmKey, Option<User>>,
    key_reader: GroupCommit<KeyListing, Vec<SigningKeyRecord>>,
    api_key_reader: GroupCommit<[u8; 16], Option<StoredApiKey>>,
    permission_reader: GroupCommit<String, Vec<Permission>>,
}

impl PgStore {
    /// `keys rewrap`: every private key and the pepper sealed under `to` instead.
    pub async fn rewrap(&self, to: &portcullis_core::at_rest::AtRest) -> StoreResult<usize> {
        cold::reseal(&self.pools, to).await
    }

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
        let pool = pool_options(options.max_connections.max(1), options.acquire_timeout).connect_lazy_with(
            // A prepared statement's generic plan is chosen once, from the table sizes
            // of that moment, and kept: a cold statement first planned while a table
            // was nearly empty would keep scanning it once it has grown. A custom plan
            // sees the table as it is.
            opts.clone()
                .options([("statement_timeout", statement_timeout.as_str()), ("plan_cache_mode", "force_custom_plan")]),
        );
        let hot = pool_options(HOT_CONNECTIONS, options.acquire_timeout).connect_lazy_with(
            opts.options([("statement_timeout", statement_timeout.as_str())]).options(BATCH_PLANNING.iter().copied()),
        );
        tracing::info!(backend = "postgres", target, "database ready");
        let batches = hot.clone();
        let insert: RunBatch<PendingToken, bool> = Arc::new(move |jobs| {
            let pool = batches.clone();
            Box::pin(async move { batches::insert(&pool, jobs).await })
        });
        let batches = hot.clone();
        let revoke: RunBatch<([u8; 16], i64), bool> = Arc::new(move |jobs| {
            let pool = batches.clone();
            Box::pin(async move { batches::revoke(&pool, jobs).await })
        });
        let batches = hot.clone();
        let read: RunBatch<TokenLookup, FoundToken> = Arc::new(move |jobs| {
            let pool = batches.clone();
            Box::pin(async move { batches::read(&pool, jobs).await })
        });
        let batches = hot.clone();
        let rotate: RunBatch<RotationJob, bool> = Arc::new(move |jobs| {
            let pool = batches.clone();
            Box::pin(async move { batches::rotate(&pool, jobs).await })
        });
        let batches = hot.clone();
        let redeem: RunBatch<RedemptionJob, Option<AuthorizationCode>> = Arc::new(move |jobs| {
            let pool = batches.clone();
            Box::pin(async move { batches::redeem(&pool, jobs).await })
        });
        // The point reads of the hot paths, each kind batched on its own.
        macro_rules! reader {
            ($what:literal, $read:path) => {{
                let batches = hot.clone();
                GroupCommit::spawn(
                    $what,
                    Arc::new(move |keys| {
                        let pool = batches.clone();
                        Box::pin(async move { $read(&pool, keys).await })
                    }),
                )
            }};
        }
        let pools = Pools::new(pool.clone(), pool.clone(), "BEGIN", options.at_rest.clone());
        crate::sealing::log_report(cold::check_at_rest(&pools).await.map_err(|e| with_context(e, &target))?);
        Ok(Self {
            pools,
            hot: hot.clone(),
            token_writer: GroupCommit::spawn("token write", insert),
            token_revoker: GroupCommit::spawn("token revocation", revoke),
            token_reader: GroupCommit::spawn("token read", read),
            epoch_reader: reader!("token epoch read", batches::epoch),
            hot_tokens: HotTokens::default(),
            refresh_rotator: GroupCommit::spawn("refresh rotation", rotate),
            code_redeemer: GroupCommit::spawn("code redemption", redeem),
            grant_reader: reader!("grant read", batches::grants),
            code_reader: reader!("code read", batches::codes),
            client_reader: reader!("client read", batches::clients),
            user_reader: reader!("user read", batches::users),
            key_reader: reader!("signing key read", batches::verifying_keys),
            api_key_reader: reader!("api key read", batches::api_keys),
            permission_reader: reader!("permission list", batches::permissions),
        })
    }
}

fn pool_options(max_connections: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // No reaper (sqlx#3645: its maintenance task can spin a worker for good);
        // a connection the server or a proxy dropped is found by the ping below.
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(acquire_timeout)
        // sqlx pings every connection it hands out by default: one more round trip
        // per statement, doubling the cost of a one-statement request. Only a
        // connection idle long enough to have been dropped by the server or a
        // proxy is checked; a busy one proves itself alive with every statement.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}
