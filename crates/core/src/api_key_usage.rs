//! When API keys were last used, written in batches: a key may be presented on every
//! request, and a write per request would put the hot path behind the database's
//! writer. Uses are gathered in memory (at most one per key per [`RESOLUTION_SECS`],
//! judged by the stored value) and written by [`run`] every [`FLUSH_INTERVAL`], one
//! transaction per flush. A crash loses at most one interval of "last used" times;
//! nothing else depends on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::org::ApiKey;
use crate::store::{Store, StoreResult};

/// How often the background task writes what was gathered.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// A use less than this long after the stored `last_used_at` is not recorded again.
pub const RESOLUTION_SECS: i64 = 60;
/// Most keys gathered between flushes; beyond it uses are dropped until the next flush
/// (they are advisory), so memory stays bounded whatever the traffic.
const MAX_PENDING: usize = 100_000;

#[derive(Default)]
pub struct ApiKeyUsage {
    pending: Mutex<HashMap<[u8; 16], i64>>,
}

impl ApiKeyUsage {
    /// Notes that `key` was used at `now`.
    pub fn record(&self, key: &ApiKey, now: i64) {
        if key.last_used_at.is_some_and(|at| now - at < RESOLUTION_SECS) {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() < MAX_PENDING || pending.contains_key(&key.id) {
            let at = pending.entry(key.id).or_insert(now);
            *at = (*at).max(now);
        }
    }

    /// Writes what was gathered; on failure it is kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> StoreResult<usize> {
        let taken: Vec<([u8; 16], i64)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect();
        if taken.is_empty() {
            return Ok(0);
        }
        if let Err(e) = store.touch_api_keys(&taken).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in taken {
                let slot = pending.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
            return Err(e);
        }
        Ok(taken.len())
    }
}

/// Flushes `usage` every `interval` until aborted (`serve` aborts it at shutdown, after
/// one last flush of its own).
pub async fn run(usage: Arc<ApiKeyUsage>, store: Arc<dyn Store>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = usage.flush(store.as_ref()).await {
            tracing::warn!(error = %e, "could not record API key use; will retry");
        }
    }
}
