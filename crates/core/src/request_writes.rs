//! Writes that belong to an HTTP request, so that no write commits after its request
//! was answered by a timeout.
//!
//! The server runs each handler inside [`RequestWrites::scope`]. The store claims a
//! write ([`RequestWrites::claim`]) when it starts it, for real: when the SQLite
//! writer thread or the PostgreSQL token writer takes the job out of its queue, or
//! when a transaction is about to begin. When the request's time is up the server
//! calls [`RequestWrites::expire`], which succeeds only while no write is claimed; from
//! then on every claim is refused (and a job still queued is never run). While a write
//! is claimed the server waits for it, and the answer is its real outcome. So a write
//! either commits before the answer, which reports it, or never.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::store::StoreError;

/// Set in `state` once the request's time is up; the other bits count claimed writes.
const EXPIRED: usize = 1 << (usize::BITS - 1);

tokio::task_local! {
    static CURRENT: Arc<RequestWrites>;
}

/// The writes of one request.
#[derive(Debug, Default)]
pub struct RequestWrites {
    state: AtomicUsize,
    released: Notify,
}

impl RequestWrites {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Runs `work` (a request handler) with `writes` as the request's.
    pub async fn scope<F: Future>(writes: Arc<Self>, work: F) -> F::Output {
        CURRENT.scope(writes, work).await
    }

    /// The writes of the request being handled on this task; `None` outside a request
    /// (the CLI, tests of the store), where nothing ever expires.
    pub fn current() -> Option<Arc<Self>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Starts a write; `Err` once the request has expired, and then the write must not
    /// happen. The write counts as in flight until the claim is dropped.
    pub fn claim(self: &Arc<Self>) -> Result<WriteClaim, StoreError> {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| (s & EXPIRED == 0).then_some(s + 1))
            .map(|_| WriteClaim(Some(self.clone())))
            .map_err(|_| expired())
    }

    /// Marks the request as timed out unless a write is in flight: `true` if it now
    /// is (no write can start any more), `false` if a claimed write must be waited
    /// for ([`Self::released`]).
    pub fn expire(&self) -> bool {
        self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| (s & !EXPIRED == 0).then_some(EXPIRED)).is_ok()
    }

    /// Resolves after a claimed write ends. Create it before calling [`Self::expire`],
    /// so that a release in between is not missed.
    pub fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.released.notified()
    }
}

/// The error of a write refused because its request has already been answered.
pub fn expired() -> StoreError {
    StoreError::Unavailable("the request timed out before its write started; nothing was written".into())
}

/// A write in flight (see [`RequestWrites::claim`]); `WriteClaim::none()` outside a
/// request.
#[derive(Debug)]
#[must_use = "the write counts as in flight only while its claim is held"]
pub struct WriteClaim(Option<Arc<RequestWrites>>);

impl WriteClaim {
    pub fn none() -> Self {
        Self(None)
    }

    /// Claims a write for `request`, if there is one.
    pub fn of(request: Option<&Arc<RequestWrites>>) -> Result<Self, StoreError> {
        request.map_or(Ok(Self::none()), RequestWrites::claim)
    }
}

impl Drop for WriteClaim {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.state.fetch_sub(1, Ordering::AcqRel);
            r.released.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_write_starts_after_expiry_and_expiry_waits_for_writes_in_flight() {
        let r = RequestWrites::new();
        let claim = r.claim().unwrap();
        assert!(!r.expire(), "a write is in flight");
        let second = r.claim().unwrap();
        drop(claim);
        assert!(!r.expire());
        drop(second);
        assert!(r.expire());
        assert!(matches!(r.claim(), Err(StoreError::Unavailable(_))));
        assert!(r.expire(), "expiring twice is harmless");
    }

    #[tokio::test]
    async fn the_current_request_is_seen_inside_its_scope_only() {
        assert!(RequestWrites::current().is_none());
        let r = RequestWrites::new();
        let inside = RequestWrites::scope(r.clone(), async { RequestWrites::current() }).await;
        assert!(Arc::ptr_eq(&inside.unwrap(), &r));
        assert!(WriteClaim::of(None).is_ok());
    }
}
