//! Group commit for token inserts: concurrent `insert_token` calls are gathered by one
//! writer task into one transaction, and each caller is answered when its batch has
//! committed, so a token is never handed out before its row is durable.
//!
//! On one core the batches only form if the writer lets other requests run before it
//! commits, so after the first token it yields to the scheduler a few times and takes
//! whatever arrived meanwhile (tokio's timers are too coarse, 1 ms, to linger by
//! time). A batch that fails as a whole is written again row by row, so one bad row
//! (a client deleted a moment ago) fails only its own request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_core::model::TokenRecord;
use portcullis_core::store::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

/// Most rows in one transaction.
const MAX_BATCH: usize = 256;
/// How many times the writer yields, waiting for more rows, before it commits.
const YIELDS: usize = 4;

type Reply = oneshot::Sender<StoreResult<()>>;
type BatchFuture = Pin<Box<dyn Future<Output = StoreResult<()>> + Send>>;

/// Writes a batch of rows in one transaction (`Err` if any row or the commit failed,
/// and then nothing is written).
pub(crate) type WriteBatch = Arc<dyn Fn(Vec<TokenRecord>) -> BatchFuture + Send + Sync>;

pub(crate) struct GroupCommit {
    queue: mpsc::Sender<(TokenRecord, Reply)>,
}

impl GroupCommit {
    pub(crate) fn spawn(write: WriteBatch) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(rx, write));
        Self { queue }
    }

    pub(crate) async fn insert(&self, token: TokenRecord) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("the token writer has stopped".into());
        self.queue.send((token, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn writer(mut rx: mpsc::Receiver<(TokenRecord, Reply)>, write: WriteBatch) {
    let mut batch: Vec<(TokenRecord, Reply)> = Vec::with_capacity(MAX_BATCH);
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
        let (rows, replies): (Vec<TokenRecord>, Vec<Reply>) = batch.drain(..).unzip();
        if let ([_], [_]) = (&rows[..], &replies[..]) {
            let result = write(rows).await;
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(result);
            }
            continue;
        }
        match write(rows.clone()).await {
            Ok(()) => replies.into_iter().for_each(|r| drop(r.send(Ok(())))),
            Err(_) => {
                // Find the culprit: each row on its own.
                for (row, reply) in rows.into_iter().zip(replies) {
                    let _ = reply.send(write(vec![row]).await);
                }
            }
        }
    }
}
