//! What store calls answer beyond rows: outcomes of the conditional writes and the
//! keys and reports of throttling and purging.

use crate::model::AuthorizationCode;

/// A sign-in failure counter: an account from one address, an account from anywhere
/// (`address` empty) or an address against every account (`account` empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FailureKey {
    pub realm: String,
    pub account: String,
    pub address: String,
}

/// A counter after a reservation: its failures in the current window (the reserved
/// one included) and when that window began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: u32,
    pub window_start: i64,
}

/// The outcome of redeeming an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// This call marked the code used and stored the tokens issued for it.
    Redeemed(AuthorizationCode),
    /// The code had been used before: a replay. The store has revoked the code's grant
    /// (RFC 6749 §4.1.2: tokens issued from it SHOULD be revoked).
    Replayed(AuthorizationCode),
    Unknown,
}

/// The outcome of exchanging a refresh token under the `rotate` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// This call spent the old token and stored the new ones.
    Rotated,
    /// The old token was spent within the grace period by the same client: the new
    /// tokens were stored, the old token stays spent.
    WithinGrace,
    /// The old token was already spent (or lost a race): the store revoked its grant
    /// and stored nothing (RFC 9700 §4.14.2).
    Reused,
}

/// What [`super::AdminStore::purge_expired`] deletes: rows that expired before `expired_before`
/// (tokens, codes, sessions, pending requests, and then the grants left with no token
/// and no code) and sign-in counters whose window began before `window_started_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    pub expired_before: i64,
    pub window_started_before: i64,
}

/// Rows deleted by one [`super::AdminStore::purge_expired`] call, per table, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted: Vec<(&'static str, u64)>,
}

impl PurgeReport {
    pub fn total(&self) -> u64 {
        self.deleted.iter().map(|(_, n)| n).sum()
    }

    /// Rows deleted from `table` (0 if it was not purged).
    pub fn get(&self, table: &str) -> u64 {
        self.deleted.iter().filter(|(t, _)| *t == table).map(|(_, n)| n).sum()
    }

    /// Adds `other`'s counts to these, table by table.
    pub fn add(&mut self, other: &PurgeReport) {
        for (table, n) in &other.deleted {
            match self.deleted.iter_mut().find(|(t, _)| t == table) {
                Some((_, sum)) => *sum += n,
                None => self.deleted.push((table, *n)),
            }
        }
    }
}

impl std::fmt::Display for PurgeReport {
    /// `tokens=12 sessions=0 ...`, for the log line of each pass.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (table, n)) in self.deleted.iter().enumerate() {
            write!(f, "{}{table}={n}", if i == 0 { "" } else { " " })?;
        }
        Ok(())
    }
}

/// Caps on live pending authorization requests, applied as a new one is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLimits {
    /// A session keeps at most this many (its newest); older ones are deleted.
    pub per_session: u32,
    /// An address with this many live requests gets no more; 0: no limit.
    pub per_address: u32,
}

/// How busy a store's connections and queues are right now, read from counters it
/// keeps anyway (no database round trip): what `/metrics` shows at each scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreLoad {
    pub pools: Vec<PoolLoad>,
    pub queues: Vec<QueueLoad>,
}

/// A connection pool: connections open and, of those, idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLoad {
    /// `read`, `write` (SQLite's two sqlx pools) or `main` (PostgreSQL's one).
    pub pool: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Writes (or batched reads) waiting for a writer: SQLite's writer thread, one of
/// PostgreSQL's group-commit tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLoad {
    pub queue: &'static str,
    pub depth: usize,
    pub capacity: usize,
}
