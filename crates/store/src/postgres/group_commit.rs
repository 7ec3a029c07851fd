//! Group commit: concurrent calls of one kind (token inserts, revocations, token
//! reads) are gathered by one task into one statement, and each caller is answered
//! with its own part of the outcome; a write's caller only once its batch has
//! committed, so a token is never handed out before its row is durable.
//!
//! On one core the batches only form if the task lets other requests run before it
//! sends the statement, so after the first job it yields to the scheduler a few times
//! and takes whatever arrived meanwhile (tokio's timers are too coarse, 1 ms, to
//! linger by time). A batch that fails as a whole is run again job by job, so one bad
//! row (a client deleted a moment ago) fails only its own request; unless the failure
//! was the database being out of reach, which each job would only wait for again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_core::model::TokenRecord;
use portcullis_core::request_writes::WriteClaim;
use portcullis_core::store::{QueueLoad, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::handoff::{self, Ticket};

/// Most jobs in one statement.
const MAX_BATCH: usize = 256;
/// Most jobs waiting for the task; one more is refused with `Unavailable` (503).
const QUEUE: usize = 16 * MAX_BATCH;
/// How many times the task yields, waiting for more jobs, before it runs a batch.
const YIELDS: usize = 4;

type Reply<A> = oneshot::Sender<StoreResult<A>>;
type BatchFuture<A> = Pin<Box<dyn Future<Output = StoreResult<Vec<A>>> + Send>>;

/// A row to insert and, if the insert is conditional, the revision its client must
/// still be at.
pub(crate) type PendingToken = (TokenRecord, Option<i64>);

/// Runs a batch of jobs in one statement and answers each, in order (for an insert:
/// whether its row was written; `false`: its client was no longer at the expected
/// revision). `Err` if any job failed, and then nothing is written.
pub(crate) type RunBatch<J, A> = Arc<dyn Fn(Vec<J>) -> BatchFuture<A> + Send + Sync>;

struct Queued<J, A> {
    job: J,
    /// Set for a write: it runs only if its caller still waits (`crate::handoff`).
    ticket: Option<Ticket>,
    reply: Reply<A>,
}

pub(crate) struct GroupCommit<J, A> {
    queue: mpsc::Sender<Queued<J, A>>,
    /// What the batches do, for error messages ("token write", "token read").
    what: &'static str,
}

impl<J: Clone + Send + 'static, A: Send + 'static> GroupCommit<J, A> {
    pub(crate) fn spawn(what: &'static str, run: RunBatch<J, A>) -> Self {
        Self::spawn_with_queue(what, run, QUEUE)
    }

    fn spawn_with_queue(what: &'static str, run: RunBatch<J, A>, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity);
        tokio::spawn(batcher(rx, run));
        Self { queue, what }
    }

    /// Runs `job` as a write: only if the task takes it before this call is dropped
    /// or its request times out (`crate::handoff`).
    pub(crate) async fn write(&self, job: J) -> StoreResult<A> {
        let (ticket, _waiter) = handoff::ticket();
        self.submit(job, Some(ticket)).await
    }

    /// Runs `job` as a read: nothing to undo if its caller has gone.
    pub(crate) async fn read(&self, job: J) -> StoreResult<A> {
        self.submit(job, None).await
    }

    async fn submit(&self, job: J, ticket: Option<Ticket>) -> StoreResult<A> {
        let (reply, answer) = oneshot::channel();
        // A full queue is answered at once, as SQLite's writer does: waiting behind a
        // backlog would only end in the request's timeout.
        self.queue.try_send(Queued { job, ticket, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Unavailable(format!("the {} queue is full", self.what)),
            mpsc::error::TrySendError::Closed(_) => self.stopped(),
        })?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Jobs waiting for the task, as `queue`.
    pub(crate) fn load(&self, queue: &'static str) -> QueueLoad {
        let capacity = self.queue.max_capacity();
        QueueLoad { queue, depth: capacity - self.queue.capacity(), capacity }
    }

    /// `Err` once the task has ended.
    pub(crate) fn check_running(&self) -> StoreResult<()> {
        if self.queue.is_closed() { Err(self.stopped()) } else { Ok(()) }
    }

    fn stopped(&self) -> StoreError {
        StoreError::Unavailable(format!("the {} task has stopped", self.what))
    }
}

impl GroupCommit<PendingToken, bool> {
    /// Whether the row was written: always, unless `client_revision` is given and the
    /// client is no longer at it.
    pub(crate) async fn insert(&self, token: TokenRecord, client_revision: Option<i64>) -> StoreResult<bool> {
        self.write((token, client_revision)).await
    }
}

async fn batcher<J: Clone, A>(mut rx: mpsc::Receiver<Queued<J, A>>, run: RunBatch<J, A>) {
    let mut batch: Vec<Queued<J, A>> = Vec::with_capacity(MAX_BATCH);
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
        // Held until the replies are sent, so no request times out while its write
        // may be committing.
        let mut claims: Vec<WriteClaim> = Vec::with_capacity(batch.len());
        let mut jobs: Vec<J> = Vec::with_capacity(batch.len());
        let mut replies: Vec<Reply<A>> = Vec::with_capacity(batch.len());
        for Queued { job, ticket, reply } in batch.drain(..) {
            match ticket.as_ref().map(Ticket::take).transpose() {
                Ok(claim) => {
                    claims.extend(claim);
                    jobs.push(job);
                    replies.push(reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        if jobs.is_empty() {
            continue;
        }
        if jobs.len() == 1 {
            let result = run(jobs).await.and_then(only);
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(result);
            }
            continue;
        }
        match run(jobs.clone()).await {
            Ok(answers) if answers.len() == replies.len() => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(_) => {
                for reply in replies {
                    let _ = reply
                        .send(Err(StoreError::Backend("a batch was answered for the wrong number of jobs".into())));
                }
            }
            // The database is out of reach: job by job would only multiply the wait.
            Err(e @ StoreError::Unavailable(_)) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            Err(_) => {
                // Find the culprit: each job on its own.
                for (job, reply) in jobs.into_iter().zip(replies) {
                    let _ = reply.send(run(vec![job]).await.and_then(only));
                }
            }
        }
        drop(claims);
    }
}

/// The answer of a batch of one.
fn only<A>(answers: Vec<A>) -> StoreResult<A> {
    answers.into_iter().next().ok_or_else(|| StoreError::Backend("a batch of one was answered with nothing".into()))
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
        let write: RunBatch<PendingToken, bool> = Arc::new(move |_rows| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(StoreError::Unavailable("gone".into())) })
        });
        let writer = Arc::new(GroupCommit::spawn("token write", write));
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
        let write: RunBatch<PendingToken, bool> = Arc::new(move |rows: Vec<PendingToken>| {
            let (mut hold, signal) = (hold.clone(), signal.clone());
            Box::pin(async move {
                signal.notify_one();
                let _ = hold.wait_for(|go| *go).await;
                Ok(vec![true; rows.len()])
            })
        });
        let writer = Arc::new(GroupCommit::spawn_with_queue("token write", write, 2));
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
