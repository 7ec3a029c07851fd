//! The audit sink: events go into a bounded in-memory buffer, and one background task
//! per process writes them in batches, so the request that caused an event never
//! waits for its row.
//!
//! The task takes the first event waiting, gathers more for at most [`LINGER`] or up to
//! [`MAX_BATCH`], and writes them with one [`AuditStore::insert_audit_events`] call:
//! on SQLite one job of the hot writer thread (so the batch shares the group commit of
//! the token writes around it), on PostgreSQL one `INSERT … SELECT FROM UNNEST`. At
//! 17,000 tokens a second that is about one write per [`LINGER`] instead of one per
//! token.
//!
//! When the buffer is full (the database is slower than the traffic), a routine event
//! ([`AuditKind::is_routine`]: token issued, sign-in succeeded) is dropped and counted,
//! with a warning at most every [`WARN_EVERY`]; any other event makes its request wait
//! up to [`SECURITY_WAIT`] for room (backpressure on failures, reuse and revocations,
//! which also slows whoever is causing them), and only then is it counted as lost, with
//! an error line. A batch the database refuses is tried again [`RETRIES`] times before
//! it is counted as lost. [`AuditLog::flush`] writes everything recorded before it;
//! `serve` calls it at shutdown, after the last request.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{AuditKind, AuditRecord};
use crate::store::AuditStore;

/// Events the buffer holds (a few hundred bytes each).
pub const DEFAULT_CAPACITY: usize = 16_384;
/// Most events in one write.
pub const MAX_BATCH: usize = 1_024;
/// How long the task gathers events after the first before writing them.
pub const LINGER: Duration = Duration::from_millis(5);
/// How long a security event waits for room in a full buffer.
pub const SECURITY_WAIT: Duration = Duration::from_secs(1);
/// Least time between two warnings about dropped events.
pub const WARN_EVERY: Duration = Duration::from_secs(10);
/// Pauses before the retries of a batch the database refused.
const RETRIES: [Duration; 3] = [Duration::from_millis(100), Duration::from_millis(500), Duration::from_secs(2)];

// Events are nearly every message: boxing them would cost an allocation each, for
// flushes that are rare.
#[allow(clippy::large_enum_variant)]
enum Message {
    Event(AuditRecord),
    /// Answered once every event sent before it is written (or lost).
    Flush(oneshot::Sender<()>),
}

/// Counters of events that never reached the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditLogStats {
    /// Routine events dropped because the buffer was full.
    pub dropped: u64,
    /// Security events that found no room within [`SECURITY_WAIT`], and events of
    /// batches the database refused [`RETRIES`] times.
    pub lost: u64,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    lost: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

pub struct AuditLog {
    events: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl AuditLog {
    /// Starts the writer task (on the current Tokio runtime) over `store`. It ends when
    /// the log is dropped, after writing what is buffered.
    pub fn start(store: Arc<dyn AuditStore>) -> Self {
        Self::start_with_capacity(store, DEFAULT_CAPACITY)
    }

    pub fn start_with_capacity(store: Arc<dyn AuditStore>, capacity: usize) -> Self {
        let (events, waiting) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(store, waiting, counters.clone()));
        Self { events, counters }
    }

    /// Records `event` (see the module comment for a full buffer).
    pub async fn record(&self, event: AuditRecord) {
        let kind = event.kind;
        let event = match self.events.try_send(Message::Event(event)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(Message::Event(e))) => e,
            Err(_) => {
                self.lose(kind, "the audit writer has stopped");
                return;
            }
        };
        if kind.is_routine() {
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if self.counters.should_warn() {
                tracing::warn!(
                    dropped_total = dropped,
                    "audit buffer full: routine events (token issued, sign-in succeeded) are being dropped"
                );
            }
            return;
        }
        if self.events.send_timeout(Message::Event(event), SECURITY_WAIT).await.is_err() {
            self.lose(kind, "the audit buffer stayed full");
        }
    }

    /// Returns once every event recorded before the call is written (or counted lost).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.events.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    pub fn stats(&self) -> AuditLogStats {
        AuditLogStats {
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            lost: self.counters.lost.load(Ordering::Relaxed),
        }
    }

    fn lose(&self, kind: AuditKind, why: &str) {
        let lost = self.counters.lost.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(kind = kind.as_str(), lost_total = lost, "audit event lost: {why}");
    }
}

impl Counters {
    fn should_warn(&self) -> bool {
        let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

async fn run(store: Arc<dyn AuditStore>, mut waiting: mpsc::Receiver<Message>, counters: Arc<Counters>) {
    let mut batch: Vec<AuditRecord> = Vec::with_capacity(MAX_BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = waiting.recv().await {
        match first {
            Message::Event(e) => batch.push(e),
            Message::Flush(done) => flushes.push(done),
        }
        // A flush writes at once; events wait up to LINGER for company.
        let deadline = tokio::time::Instant::now() + LINGER;
        while flushes.is_empty() && batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, waiting.recv()).await {
                Ok(Some(Message::Event(e))) => batch.push(e),
                Ok(Some(Message::Flush(done))) => flushes.push(done),
                Ok(None) | Err(_) => break,
            }
        }
        write(store.as_ref(), &mut batch, &counters).await;
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write(store: &dyn AuditStore, batch: &mut Vec<AuditRecord>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let mut attempt = 0;
    loop {
        match store.insert_audit_events(batch).await {
            Ok(()) => break,
            Err(e) if attempt < RETRIES.len() => {
                tracing::warn!(error = %e, events = batch.len(), "could not write audit events; retrying");
                tokio::time::sleep(RETRIES[attempt]).await;
                attempt += 1;
            }
            Err(e) => {
                let lost = counters.lost.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64;
                tracing::error!(error = %e, events = batch.len(), lost_total = lost, "audit events lost: the database refused them");
                break;
            }
        }
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::audit::AuditQuery;
    use crate::store::{StoreError, StoreResult};

    /// Holds every write until a permit is added; fails while `failing`.
    struct GatedStore {
        gate: Semaphore,
        failing: AtomicBool,
        written: Mutex<Vec<AuditRecord>>,
    }

    #[async_trait]
    impl AuditStore for GatedStore {
        async fn insert_audit_events(&self, events: &[AuditRecord]) -> StoreResult<()> {
            self.gate.acquire().await.unwrap().forget();
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            self.written.lock().unwrap().extend_from_slice(events);
            Ok(())
        }
        async fn list_audit_events(&self, _: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
            Ok(Vec::new())
        }
        async fn purge_audit_events(&self, _: i64, _: u32) -> StoreResult<u64> {
            Ok(0)
        }
    }

    impl Default for GatedStore {
        fn default() -> Self {
            Self { gate: Semaphore::new(0), failing: AtomicBool::new(false), written: Mutex::default() }
        }
    }

    fn event(kind: AuditKind) -> AuditRecord {
        AuditRecord::new(kind, Some("r"), 1)
    }

    /// With the writer stuck and the buffer full, routine events are dropped and
    /// counted at once, while a security event waits for room and is written.
    #[tokio::test]
    async fn a_full_buffer_drops_routine_events_and_holds_security_ones() {
        let store = Arc::new(GatedStore::default());
        let log = Arc::new(AuditLog::start_with_capacity(store.clone(), 2));
        // The first is taken by the writer, which then waits at the gate; two fill
        // the buffer; the rest find it full.
        for _ in 0..6 {
            log.record(event(AuditKind::TokenIssued)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(log.stats(), AuditLogStats { dropped: 3, lost: 0 });
        let waiting = tokio::spawn({
            let log = log.clone();
            async move { log.record(event(AuditKind::ClientAuthFailed)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a security event waits for room");
        store.gate.add_permits(1_000);
        waiting.await.unwrap();
        log.flush().await;
        let written = store.written.lock().unwrap().iter().map(|e| e.kind).collect::<Vec<_>>();
        assert_eq!(written.iter().filter(|k| **k == AuditKind::TokenIssued).count(), 3);
        assert_eq!(written.last(), Some(&AuditKind::ClientAuthFailed));
        assert_eq!(log.stats(), AuditLogStats { dropped: 3, lost: 0 });
    }

    /// A batch the database keeps refusing is retried, then counted lost; the log
    /// goes on writing afterwards.
    #[tokio::test]
    async fn a_refused_batch_is_retried_then_counted_lost() {
        let store = Arc::new(GatedStore::default());
        store.gate.add_permits(1_000);
        store.failing.store(true, Ordering::SeqCst);
        let log = AuditLog::start(store.clone());
        log.record(event(AuditKind::SignInFailed)).await;
        log.flush().await;
        assert_eq!(log.stats().lost, 1);
        store.failing.store(false, Ordering::SeqCst);
        log.record(event(AuditKind::SignInLocked)).await;
        log.flush().await;
        assert_eq!(store.written.lock().unwrap().len(), 1);
    }
}
