//! Group commit for token inserts: concurrent `insert_token` calls are gathered by one
//! writer task into one transaction, and each caller is answered when its batch has
//! committed, so a token is never handed out before its row is durable.
//!
//! On one core the batches only form if the writer lets other requests run before it
//! commits, so after the first token it yields to the scheduler a few times and takes
//! whatever arrived meanwhile (tokio's timers are too coarse, 1 ms, to linger by
//! time). A batch that fails as a whole is written again row by row, so one bad row
//! (a client deleted a moment ago) fails only its own request; unless the failure was
//! the database being out of reach, which each row would only wait for again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_core::model::TokenRecord;
use portcullis_core::request_writes::WriteClaim;
use portcullis_core::store::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::handoff::{self, Ticket};

/// Most rows in one transaction.
const MAX_BATCH: usize = 256;
/// Most inserts waiting for the writer; one more is refused with `Unavailable` (503).
const QUEUE: usize = 16 * MAX_BATCH;
/// How many times the writer yields, waiting for more rows, before it commits.
const YIELDS: usize = 4;

type Reply = oneshot::Sender<StoreResult<bool>>;
type BatchFuture = Pin<Box<dyn Future<Output = StoreResult<Vec<bool>>> + Send>>;

/// A row to insert and, if the insert is conditional, the revision its client must
/// still be at.
pub(crate) type PendingToken = (TokenRecord, Option<i64>);

/// Writes a batch of rows in one transaction and says, row by row, whether each was
/// written (`false`: its client was no longer at the expected revision). `Err` if any
/// row or the commit failed, and then nothing is written.
pub(crate) type WriteBatch = Arc<dyn Fn(Vec<PendingToken>) -> BatchFuture + Send + Sync>;

struct Queued {
    row: PendingToken,
    ticket: Ticket,
    reply: Reply,
}

pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Queued>,
}

impl GroupCommit {
    pub(crate) fn spawn(write: WriteBatch) -> Self {
        Self::spawn_with_queue(write, QUEUE)
    }

    fn spawn_with_queue(write: WriteBatch, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity);
        tokio::spawn(writer(rx, write));
        Self { queue }
    }

    /// Whether the row was written: always, unless `client_revision` is given and the
    /// client is no longer at it. Only written if the writer takes it before this call
    /// is dropped or its request times out (`crate::handoff`).
    pub(crate) async fn insert(&self, token: TokenRecord, client_revision: Option<i64>) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let (ticket, _waiter) = handoff::ticket();
        // A full queue is answered at once, as SQLite's writer does: waiting behind a
        // backlog would only end in the request's timeout.
        self.queue.try_send(Queued { row: (token, client_revision), ticket, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Unavailable("the token write queue is full".into()),
            mpsc::error::TrySendError::Closed(_) => stopped(),
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// `Err` once the writer task has ended.
    pub(crate) fn check_running(&self) -> StoreResult<()> {
        if self.queue.is_closed() { Err(stopped()) } else { Ok(()) }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the token writer has stopped".into())
}

async fn writer(mut rx: mpsc::Receiver<Queued>, write: WriteBatch) {
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        for _ in 0..YIELDS {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        // Held until the replies are sent, so no request times out while its row
        // may be committing.
        let mut claims: Vec<WriteClaim> = Vec::with_capacity(batch.len());
        let mut rows: Vec<PendingToken> = Vec::with_capacity(batch.len());
        let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
        for Queued { row, ticket, reply } in batch.drain(..) {
            match ticket.take() {
                Ok(claim) => {
                    claims.push(claim);
                    rows.push(row);
                    replies.push(reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        if rows.is_empty() {
            continue;
        }
        if let ([_], [_]) = (&rows[..], &replies[..]) {
            let result = write(rows).await.map(|written| written.first().copied().unwrap_or(false));
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(result);
            }
            continue;
        }
        match write(rows.clone()).await {
            Ok(written) => {
                for (reply, ok) in replies.into_iter().zip(written) {
                    let _ = reply.send(Ok(ok));
                }
            }
            // The database is out of reach: row by row would only multiply the wait.
            Err(e @ StoreError::Unavailable(_)) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            Err(_) => {
                // Find the culprit: each row on its own.
                for (row, reply) in rows.into_iter().zip(replies) {
                    let result = write(vec![row]).await.map(|written| written.first().copied().unwrap_or(false));
                    let _ = reply.send(result);
                }
            }
        }
        drop(claims);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use portcullis_core::model::TokenKind;

    use super::*;

    fn token(n: u8) -> TokenRecord {
        TokenRecord {
            id: [n; 16],
            realm: "r".into(),
            kind: TokenKind::Access,
            verifier_hash: None,
            client_id: "c".into(),
            subject: "c".into(),
            username: None,
            scope: String::new(),
            grant_id: None,
            permissions: Vec::new(),
            test: false,
            issued_at: 0,
            expires_at: None,
            revoked_at: None,
            used_at: None,
        }
    }

    /// A batch that fails because the database is out of reach fails every row at
    /// once: retrying row by row would make each caller wait for the outage again.
    #[tokio::test]
    async fn an_unavailable_batch_is_not_retried_row_by_row() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let write: WriteBatch = Arc::new(move |_rows| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(StoreError::Unavailable("gone".into())) })
        });
        let writer = Arc::new(GroupCommit::spawn(write));
        let inserts: Vec<_> = (0..3)
            .map(|n| {
                let w = writer.clone();
                tokio::spawn(async move { w.insert(token(n), None).await })
            })
            .collect();
        for insert in inserts {
            assert!(matches!(insert.await.unwrap(), Err(StoreError::Unavailable(_))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one batch, no retries");
    }

    /// Past the queue's capacity an insert is refused at once, not held until timeout.
    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let (release, hold) = tokio::sync::watch::channel(false);
        let started = Arc::new(tokio::sync::Notify::new());
        let signal = started.clone();
        let write: WriteBatch = Arc::new(move |rows: Vec<PendingToken>| {
            let (mut hold, signal) = (hold.clone(), signal.clone());
            Box::pin(async move {
                signal.notify_one();
                let _ = hold.wait_for(|go| *go).await;
                Ok(vec![true; rows.len()])
            })
        });
        let writer = Arc::new(GroupCommit::spawn_with_queue(write, 2));
        let insert = |n: u8| {
            let w = writer.clone();
            tokio::spawn(async move { w.insert(token(n), None).await })
        };
        // One batch held inside the writer, then two queued behind it fill the queue.
        let mut inserts = vec![insert(0)];
        started.notified().await;
        inserts.push(insert(1));
        inserts.push(insert(2));
        while writer.queue.capacity() > 0 {
            tokio::task::yield_now().await;
        }
        // The bound only guards against a hang: a refusal is immediate.
        let refused = tokio::time::timeout(std::time::Duration::from_secs(10), writer.insert(token(9), None))
            .await
            .expect("a full queue answers instead of waiting");
        assert!(matches!(refused, Err(StoreError::Unavailable(m)) if m.contains("full")));
        release.send(true).unwrap();
        for insert in inserts {
            assert!(insert.await.unwrap().unwrap());
        }
    }
}
