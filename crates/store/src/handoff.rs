//! A write handed to a writer (SQLite's writer thread, PostgreSQL's token writer)
//! runs only if, when the writer takes it out of the queue, its caller still waits
//! for the answer and its request has not been answered by a timeout
//! (`portcullis_core::request_writes`). Either the writer takes it (`Pending` →
//! `Taken`) and the caller is answered with the real outcome, or the caller gives up
//! first (`Pending` → `Abandoned`) and it never runs: a request that saw a timeout or
//! a 503 leaves nothing written behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use portcullis_core::request_writes::{RequestWrites, WriteClaim};
use portcullis_core::store::{StoreError, StoreResult};

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// The writer's side of a queued write.
pub(crate) struct Ticket {
    state: Arc<AtomicU8>,
    request: Option<Arc<RequestWrites>>,
}

/// The caller's side: dropping it before the writer has taken the write (the caller's
/// future was cancelled) abandons the write.
pub(crate) struct Waiter {
    state: Arc<AtomicU8>,
}

/// A ticket for a write of the current request, if any.
pub(crate) fn ticket() -> (Ticket, Waiter) {
    let state = Arc::new(AtomicU8::new(PENDING));
    (Ticket { state: state.clone(), request: RequestWrites::current() }, Waiter { state })
}

impl Ticket {
    /// Takes the write for running it: the claim to hold until its caller has been
    /// answered, or `Err` if it must not run.
    pub(crate) fn take(&self) -> StoreResult<WriteClaim> {
        let claim = WriteClaim::of(self.request.as_ref())?;
        match self.state.compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(claim),
            Err(_) => Err(StoreError::Unavailable("the caller stopped waiting; nothing was written".into())),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // Fails harmlessly when the writer took the write first.
        let _ = self.state.compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Claims a token write run on the caller's task (`portcullis_core::request_writes`):
/// refused once the request has timed out, and held until the write has committed or
/// failed, so the request is not answered by a timeout in between.
pub(crate) fn claim_write() -> StoreResult<WriteClaim> {
    WriteClaim::of(RequestWrites::current().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_write_is_never_taken_and_a_taken_one_stays_taken() {
        let (abandoned, waiter) = ticket();
        drop(waiter);
        assert!(abandoned.take().is_err());

        let (taken, waiter) = ticket();
        let claim = taken.take().unwrap();
        drop(waiter);
        drop(claim);
        assert!(taken.take().is_err(), "taken once");
    }

    #[tokio::test]
    async fn a_write_of_an_expired_request_is_not_taken() {
        let request = RequestWrites::new();
        let (ticket, _waiter) = RequestWrites::scope(request.clone(), async { ticket() }).await;
        assert!(request.expire());
        assert!(ticket.take().is_err());
    }
}
