//! What `AdminStore::load` and `table_sizes` report, from the parts both wings share.

use portcullis_core::store::PoolLoad;
use sqlx::{Database, Pool};

/// The tables `table_sizes` reports, in its order (`sql::SQLITE_TABLE_SIZES` counts
/// the same ones).
pub(crate) const SIZED_TABLES: [&str; 11] = [
    "tokens",
    "grants",
    "authorization_codes",
    "sessions",
    "authorization_requests",
    "sign_in_failures",
    "consents",
    "clients",
    "users",
    "api_keys",
    "realms",
];

pub(crate) fn pool_load<DB: Database>(name: &'static str, pool: &Pool<DB>) -> PoolLoad {
    PoolLoad {
        pool: name,
        size: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

/// Every table of [`SIZED_TABLES`] with its count from `counted` (0 where the
/// database reported none: PostgreSQL's statistics may not know a table yet).
pub(crate) fn sizes(counted: &[(String, i64)]) -> Vec<(&'static str, i64)> {
    SIZED_TABLES
        .iter()
        .map(|t| (*t, counted.iter().find(|(name, _)| name == t).map_or(0, |(_, n)| (*n).max(0))))
        .collect()
}
