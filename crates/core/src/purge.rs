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
/// How long audit events are kept by default (`serve --audit-retention-days`).
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

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

/// Deletes audit events older than `before`, in batches, pausing between them like
/// [`pass`]; returns how many.
pub async fn audit_pass(store: &dyn Store, before: i64, batch_size: u32) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let started = tokio::time::Instant::now();
        let n = store.purge_audit_events(before, batch_size).await?;
        total += n;
        if n < u64::from(batch_size) {
            return Ok(total);
        }
        tokio::time::sleep(started.elapsed().max(Duration::from_millis(1))).await;
    }
}

/// [`run_keeping_audit`] with the default audit retention.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>, interval: Duration, batch_size: u32) {
    run_with(store, clock, interval, batch_size, DEFAULT_AUDIT_RETENTION, Arc::new(NoMetrics)).await
}

/// [`run`], counting each pass into `metrics` (rows purged per table).
pub async fn run_counted(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch_size: u32,
    metrics: Arc<dyn Metrics>,
) {
    run_with(store, clock, interval, batch_size, DEFAULT_AUDIT_RETENTION, metrics).await
}

/// [`run`] with audit events kept for `audit_retention`.
pub async fn run_keeping_audit(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch_size: u32,
    audit_retention: Duration,
) {
    run_with(store, clock, interval, batch_size, audit_retention, Arc::new(NoMetrics)).await
}

/// Runs a pass now and then every `interval`, logging one line per pass and counting
/// it into `metrics`, until the task is dropped; each pass also deletes audit events
/// older than `audit_retention` (zero: kept for ever). A failed pass (the database
/// away) is logged and tried again at the next interval.
pub async fn run_with(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    batch_size: u32,
    audit_retention: Duration,
    metrics: Arc<dyn Metrics>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retention = i64::try_from(audit_retention.as_secs()).unwrap_or(i64::MAX);
    loop {
        ticks.tick().await;
        let started = tokio::time::Instant::now();
        let now = clock.now();
        let outcome = async {
            let mut report = pass(store.as_ref(), now, batch_size).await?;
            if retention > 0 {
                let audit = audit_pass(store.as_ref(), now.saturating_sub(retention), batch_size).await?;
                report.add(&PurgeReport { deleted: vec![("audit_events", audit)] });
            }
            Ok::<_, crate::store::StoreError>(report)
        };
        match outcome.await {
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
