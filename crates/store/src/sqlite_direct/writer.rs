//! Group commit on one write connection owned by one thread.
//!
//! Every hot write (token inserts, rotations, redemptions, revocations) is a job sent to
//! this thread. The thread takes every job that is waiting, runs each inside a
//! savepoint of one transaction (so a failing job undoes only its own changes), commits
//! once, and only then answers each caller: nothing is reported written before it is.
//!
//! After the first job it may sleep for the configured linger (a kernel timer, precise
//! to tens of microseconds, unlike tokio's 1 ms wheel) and take what arrived meanwhile;
//! on one core the batches form without it, since the writer waits for the core while
//! the runtime thread serves requests (`DEFAULT_SQLITE_WRITE_LINGER`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use portcullis_core::store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::map_err;

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;

/// Called with the batch's commit outcome, after the commit.
type Completion = Box<dyn FnOnce(&StoreResult<()>) + Send>;
/// Runs the job on the writer's connection (inside the open transaction), or reports
/// the error that kept the transaction from opening.
type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> Option<Completion> + Send>;

pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which must be a read-write connection.
    pub(crate) fn spawn(conn: Connection, linger: Duration) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue, linger))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch's transaction and answers once that has committed.
    /// `work` returning `Err` undoes its own changes and fails only this call.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| match conn {
            Err(e) => {
                let _ = reply.send(Err(e.clone()));
                None
            }
            Ok(conn) => {
                let result = in_savepoint(conn, work);
                Some(Box::new(move |commit: &StoreResult<()>| {
                    let _ = reply.send(match commit {
                        Ok(()) => result,
                        Err(e) => Err(e.clone()),
                    });
                }))
            }
        });
        let gone = || StoreError::Unavailable("the SQLite writer has stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    exec(conn, "SAVEPOINT job")?;
    let result = work(conn);
    if result.is_err() {
        exec(conn, "ROLLBACK TO job")?;
    }
    exec(conn, "RELEASE job")?;
    result
}

fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop).map_err(map_err)
}

fn run(conn: Connection, queue: mpsc::Receiver<Job>, linger: Duration) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        batch.push(first);
        take_waiting(&queue, &mut batch);
        if !linger.is_zero() && batch.len() < MAX_BATCH {
            std::thread::sleep(linger);
            take_waiting(&queue, &mut batch);
        }
        let begun = exec(&conn, "BEGIN IMMEDIATE");
        let mut panicked = false;
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            // A panicking job drops its reply (its caller gets an error) and must not
            // take the thread, and every later write, with it.
            match catch_unwind(AssertUnwindSafe(|| job(begun.as_ref().map(|()| &conn)))) {
                Ok(completion) => completions.extend(completion),
                Err(_) => panicked = true,
            }
        }
        if begun.is_err() {
            continue;
        }
        // A panicked job may have left its savepoint half done: keep nothing.
        let committed = if panicked {
            Err(StoreError::Backend("a write in the same batch failed unexpectedly; nothing was written".into()))
        } else {
            exec(&conn, "COMMIT")
        };
        if committed.is_err() {
            // COMMIT can fail and leave the transaction open (SQLITE_BUSY); end it.
            let _ = exec(&conn, "ROLLBACK");
        }
        for complete in completions {
            complete(&committed);
        }
    }
}

fn take_waiting(queue: &mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(linger: Duration) -> (tempfile::TempDir, Writer, Connection) {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY);").unwrap();
        let reader = Connection::open(&path).unwrap();
        (dir, Writer::spawn(conn, linger).unwrap(), reader)
    }

    fn insert(v: i64) -> impl FnOnce(&Connection) -> StoreResult<i64> + Send + 'static {
        move |conn| {
            conn.execute("INSERT INTO t (v) VALUES (?1)", [v]).map_err(map_err)?;
            Ok(v)
        }
    }

    fn stored(reader: &Connection) -> Vec<i64> {
        let mut s = reader.prepare("SELECT v FROM t ORDER BY v").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    /// Concurrent jobs share transactions; one that fails (here half-way: its first
    /// row is written, its second clashes) leaves nothing behind and fails alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_job_undoes_only_its_own_changes() {
        let (_dir, writer, reader) = writer(Duration::from_millis(2));
        let writer = std::sync::Arc::new(writer);
        writer.write(insert(1)).await.unwrap();
        let mut tasks = Vec::new();
        for v in 10..40 {
            let w = writer.clone();
            tasks.push(tokio::spawn(async move { w.write(insert(v)).await }));
        }
        let w = writer.clone();
        let failing = tokio::spawn(async move {
            w.write(|conn| {
                conn.execute("INSERT INTO t (v) VALUES (100)", []).map_err(map_err)?;
                conn.execute("INSERT INTO t (v) VALUES (1)", []).map_err(map_err)?;
                Ok(())
            })
            .await
        });
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(matches!(failing.await.unwrap(), Err(StoreError::Conflict(_))));
        let expected: Vec<i64> = std::iter::once(1).chain(10..40).collect();
        assert_eq!(stored(&reader), expected);
    }

    /// A panic inside a job fails its batch, not the writer: later writes still work.
    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_writer() {
        let (_dir, writer, reader) = writer(Duration::ZERO);
        let panicked = writer.write(|_conn| -> StoreResult<()> { panic!("job bug") }).await;
        assert!(panicked.is_err());
        assert_eq!(writer.write(insert(7)).await.unwrap(), 7);
        assert_eq!(stored(&reader), vec![7]);
    }

    /// The answer comes after the commit: a reader on another connection sees the row
    /// as soon as `write` returns.
    #[tokio::test]
    async fn a_write_is_visible_when_it_returns() {
        let (_dir, writer, reader) = writer(Duration::from_micros(200));
        for v in 0..20 {
            writer.write(insert(v)).await.unwrap();
            assert_eq!(stored(&reader).last(), Some(&v));
        }
    }
}
