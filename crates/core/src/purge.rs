//! The background purge: every interval, each instance deletes what has expired, in
//! small batches, so that no table grows with traffic that is over. The store makes
//! each batch idempotent and safe to run on every instance at once.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::metrics::{Metrics, NoMetrics};
use crate::store::{PurgeCutoffs, PurgeReport, Store, StoreResult};

/// How often a pass runs by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Rows per table per statement: each batch holds SQLite's write lock (or PostgreSQL's
/// row locks) for a few milliseconds only.
pub const DEFAULT_BATCH_SIZE: u32 = 500;
/// Rows are kept this long past their expiry, so an instance whose clock is behind by
/// less never finds a row gone that it still considers live (it would refuse it either
/// way, but as unknown rather than expired).
pub const MARGIN_SECS: i64 = 300;

/// What a pass at `now` deletes. Sign-in counters go once their window is over.
pub fn cutoffs(now: i64) -> PurgeCutoffs {
    PurgeCutoffs {
        expired_before: now - MARGIN_SECS,
        window_started_before: now - crate::throttle::WINDOW_SECS - MARGIN_SECS,
    }
}

/// One pass: batches until no table fills a whole batch. After each batch it pauses for
/// as long as the batch took, so that the write lock is free at least half the time
/// and requests waiting for it get in between batches.
pub async fn pass(store: &dyn Store, now: i64, batch_size: u32) -> StoreResult<PurgeReport> {
    let mut total = PurgeReport::default();
    loop {
        let started = tokio::time::Instant::now();
        let report = store.purge_expired(cutoffs(now), batch_size).await?;
        total.add(&report);
        if report.deleted.iter().all(|(_, n)| *n < u64::from(batch_size)) {
            return Ok(total);
        }
        tokio::time::sleep(started.elapsed().max(Duration::from_millis(1))).await;
    }
}

/// Runs a pass now and then every `interval`, logging one line per pass, until the
/// task is dropped. A failed pass (the database away) is logged and tried again at the
/// next interval.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>, interval: Duration, batch_size: u32) {
    run_counted(store, clock, interval, batch_size, Arc::new(NoMetrics)).await
}

/// [`run`], counting each pass into `metrics` (rows purged per table).
pub async fn run_counted(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch_size: u32,
    metrics: Arc<dyn Metrics>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let started = tokio::time::Instant::now();
        match pass(store.as_ref(), clock.now(), batch_size).await {
            Ok(report) => {
                metrics.purge_pass(Ok(&report));
                tracing::info!(
                    deleted = %report,
                    total = report.total(),
                    duration_ms = started.elapsed().as_millis() as u64,
                    "purged expired rows"
                )
            }
            Err(e) => {
                metrics.purge_pass(Err(()));
                tracing::warn!(error = %e, "purging expired rows failed; retrying at the next interval")
            }
        }
    }
}
