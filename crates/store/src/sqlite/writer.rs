//! Group commit on one write connection owned by one thread.
//!
//! Every hot write (rotations, redemptions, revocations, token inserts) is sent to this
//! thread: a job (a closure), or, for a token the token endpoint issues, a row that the
//! batch inserts with its other tokens in a few statements (`token_inserts`). The thread
//! takes everything that is waiting, runs each job inside a savepoint of one transaction
//! (so a failing job undoes only its own changes), then the batch's token rows, commits
//! once, and only then answers each caller: nothing is reported written before it is.
//! The queue is bounded (a write that finds it full fails at once), and a job runs
//! only if the thread takes it before its caller gives up or its request times out
//! (`crate::handoff`).
//!
//! It takes what is waiting and does not linger for more: with the server on one core,
//! waiting measured no gain (bench/README.md, "Profiling"). On Linux the thread runs
//! under `SCHED_BATCH`, which is what makes batches form when it shares a core with
//! the runtime: woken by a job, a normal thread preempts the runtime thread at once and
//! commits that one job; a batch thread waits until the runtime thread has served what
//! is ready and parks, then commits it all (the figures are in bench/README.md,
//! "Profiling"). With a core of its own it runs at once either way.
//!
//! It checkpoints the WAL itself, but only after answering the batch that filled it:
//! SQLite's automatic checkpoint runs inside COMMIT, so its two fsyncs held up every
//! caller of that batch while the runtime thread, with nothing to serve, idled (a
//! quarter of the core in some runs). Checkpointing on this thread, between batches,
//! also keeps it complete: no write lands meanwhile, so the WAL rewinds afterwards.

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use portcullis_core::model::TokenRecord;
use portcullis_core::request_writes::WriteClaim;
use portcullis_core::store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::errors::map_rusqlite as map_err;
use super::token_inserts::{self, TokenInsert};
use crate::handoff;

/// Most jobs in one transaction.
const MAX_BATCH: usize = 512;

/// WAL size (pages) after which the writer checkpoints: SQLite's default.
const CHECKPOINT_PAGES: c_int = 1000;

thread_local! {
    /// Pages in the WAL after this thread's last commit, from SQLite's WAL hook.
    static WAL_PAGES: Cell<c_int> = const { Cell::new(0) };
}

/// Called with the batch's commit outcome, after the commit.
type Completion = Box<dyn FnOnce(&StoreResult<()>) + Send>;
/// Runs the job on the writer's connection (inside the open transaction), or reports
/// the error that kept the transaction from opening.
type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> Option<Completion> + Send>;

/// What the queue carries: jobs, tokens to insert (the batch's go in a few
/// statements, `token_inserts`), and in tests orders for the thread itself.
enum Message {
    Job(Job),
    Token(Box<QueuedToken>),
    /// Runs on the writer thread between batches, outside any transaction.
    #[cfg(any(test, feature = "testing"))]
    Control(Box<dyn FnOnce() + Send>),
}

/// A token insert waiting for the thread, with what answers its caller.
struct QueuedToken {
    insert: TokenInsert,
    ticket: handoff::Ticket,
    reply: oneshot::Sender<StoreResult<bool>>,
}

pub(crate) struct Writer {
    jobs: mpsc::SyncSender<Message>,
    thread: std::thread::JoinHandle<()>,
    /// Jobs sent and not yet taken by the thread (std's channel has no length): the
    /// queue depth `/metrics` shows.
    waiting: Arc<AtomicUsize>,
    capacity: usize,
}

impl Writer {
    /// Starts the writer thread on `conn`, which must be a read-write connection.
    /// At most `queue` jobs wait for it; more are refused at once (`Unavailable`).
    pub(crate) fn spawn(conn: Connection, queue: usize) -> StoreResult<Self> {
        let (jobs, queued) = mpsc::sync_channel(queue.max(1));
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = waiting.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queued, &taken))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Self { jobs, thread, waiting, capacity: queue.max(1) })
    }

    /// Jobs waiting for the thread, and how many may.
    pub(crate) fn depth(&self) -> (usize, usize) {
        (self.waiting.load(Ordering::Relaxed), self.capacity)
    }

    /// `Err` once the thread has ended (it panicked outside a job, or its queue closed).
    pub(crate) fn check_running(&self) -> StoreResult<()> {
        match self.thread.is_finished() {
            true => Err(stopped()),
            false => Ok(()),
        }
    }

    /// Runs `work` in the next batch's transaction and answers once that has committed.
    /// `work` returning `Err` undoes its own changes and fails only this call.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.submit(Undo::Savepoint, work).await
    }

    /// [`Self::write`] for work that changes the database with at most one statement
    /// (reads before it are fine). SQLite undoes a failed statement by itself, so such
    /// work needs no savepoint: a savepoint copies every page the work touches into the
    /// sub-journal, which was a fifth of the writer's time for token inserts.
    pub(crate) async fn write_one_statement<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.submit(Undo::Statement, work).await
    }

    /// Inserts `token` if its client is at `client_revision`, in the next batch's
    /// transaction (`Ok(false)`: it is not), beside the other tokens of that batch;
    /// answers once that has committed. Taken like a job (`submit`).
    pub(crate) async fn insert_token_if_client_at(
        &self,
        token: TokenRecord,
        client_revision: i64,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let (ticket, _waiter) = handoff::ticket();
        self.send(Message::Token(Box::new(QueuedToken {
            insert: TokenInsert { token, client_revision },
            ticket,
            reply,
        })))?;
        answer.await.map_err(|_| stopped())?
    }

    /// The job runs only if the thread takes it before this call is dropped and
    /// before its request times out (`crate::handoff`); the claim it then takes is
    /// held until the caller has its answer.
    async fn submit<T: Send + 'static>(
        &self,
        undo: Undo,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let (ticket, _waiter) = handoff::ticket();
        let job: Job = Box::new(move |conn| {
            let taken = match conn {
                Err(e) => Err(e.clone()),
                Ok(conn) => ticket.take().map(|claim| (conn, claim)),
            };
            let (conn, claim) = match taken {
                Ok(x) => x,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return None;
                }
            };
            let result = match undo {
                Undo::Savepoint => in_savepoint(conn, work),
                Undo::Statement => work(conn),
            };
            Some(Box::new(move |commit: &StoreResult<()>| {
                let _ = reply.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(e.clone()),
                });
                drop(claim);
            }))
        });
        self.send(Message::Job(job))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues `message`, or refuses at once when the queue is full.
    fn send(&self, message: Message) -> StoreResult<()> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(message).map_err(|e| {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            match e {
                mpsc::TrySendError::Full(_) => {
                    StoreError::Unavailable("the SQLite writer has too many writes waiting; retry later".into())
                }
                mpsc::TrySendError::Disconnected(_) => stopped(),
            }
        })
    }

    /// Stops the thread from taking jobs until the returned sender is dropped (or sent
    /// to): jobs queue up meanwhile, as behind a slow commit. Blocks until it has.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn pause(&self) -> mpsc::Sender<()> {
        let (resume, paused) = mpsc::channel::<()>();
        let (now_paused, wait_for_pause) = mpsc::channel::<()>();
        self.control(move || {
            let _ = now_paused.send(());
            let _ = paused.recv();
        });
        // Returns once the thread is paused, with its queue empty.
        let _ = wait_for_pause.recv();
        resume
    }

    /// Makes the thread panic between batches, as a bug outside any job would.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn crash(&self) {
        self.control(|| panic!("SQLite writer thread stopped by a test"));
    }

    #[cfg(any(test, feature = "testing"))]
    fn control(&self, order: impl FnOnce() + Send + 'static) {
        // Blocking is fine in tests; a full queue only delays the order.
        let _ = self.jobs.send(Message::Control(Box::new(order)));
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer thread has stopped".into())
}

/// How a failed job's own changes are undone without undoing the rest of its batch.
#[derive(Clone, Copy)]
enum Undo {
    Savepoint,
    /// By SQLite's statement rollback: only for work with at most one changing statement.
    Statement,
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

fn run(conn: Connection, queue: mpsc::Receiver<Message>, waiting: &AtomicUsize) {
    // Replaces SQLite's automatic checkpoint (which is itself a WAL hook).
    conn.wal_hook(Some(note_wal_pages));
    yield_to_wakeups();
    // `tokens` is handed over whole to each batch's insert, so it starts empty each time.
    let mut batch = Batch { jobs: Vec::with_capacity(MAX_BATCH), tokens: Vec::new() };
    let mut after_batch: Option<Message> = None;
    while let Ok(first) = queue.recv() {
        match first {
            Message::Job(job) => batch.jobs.push(job),
            Message::Token(token) => batch.tokens.push(*token),
            #[cfg(any(test, feature = "testing"))]
            Message::Control(order) => {
                order();
                continue;
            }
        }
        take_waiting(&queue, &mut batch, &mut after_batch);
        waiting.fetch_sub(batch.len(), Ordering::Relaxed);
        run_batch(&conn, &mut batch);
        if WAL_PAGES.get() >= CHECKPOINT_PAGES {
            checkpoint(&conn);
        }
        match after_batch.take() {
            None | Some(Message::Job(_) | Message::Token(_)) => {}
            #[cfg(any(test, feature = "testing"))]
            Some(Message::Control(order)) => order(),
        }
    }
}

/// What one transaction runs: the jobs in their order, then the token inserts.
struct Batch {
    jobs: Vec<Job>,
    tokens: Vec<QueuedToken>,
}

impl Batch {
    fn len(&self) -> usize {
        self.jobs.len() + self.tokens.len()
    }
}

/// Runs `batch` in one transaction, then answers each of its jobs. The token inserts
/// go last: every caller in a batch is still waiting for its answer, so any order of
/// their writes is one they could have happened in.
fn run_batch(conn: &Connection, batch: &mut Batch) {
    let mut state = exec(conn, "BEGIN IMMEDIATE");
    let begun = state.is_ok();
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let tokens = std::mem::take(&mut batch.tokens);
    let token_work = (!tokens.is_empty()).then(|| -> Job { Box::new(move |conn| Some(insert_tokens(conn, tokens))) });
    for job in batch.jobs.drain(..).chain(token_work) {
        // A panicking job drops its reply (its caller gets an error) and must not
        // take the thread, and every later write, with it.
        match catch_unwind(AssertUnwindSafe(|| job(state.as_ref().map(|()| conn)))) {
            Ok(completion) => completions.extend(completion),
            // It may have left its savepoint half done: keep nothing.
            Err(_) => state = Err(failed_batch("a write in the same batch failed unexpectedly")),
        }
        // Some errors (SQLITE_FULL, SQLITE_IOERR, …) make SQLite roll the whole
        // transaction back; later jobs must not run outside it, in autocommit mode.
        if state.is_ok() && conn.is_autocommit() {
            state = Err(failed_batch("the batch's transaction was rolled back by SQLite"));
        }
    }
    if !begun {
        return;
    }
    let committed = state.and_then(|()| exec(conn, "COMMIT"));
    if committed.is_err() {
        // COMMIT can fail and leave the transaction open (SQLITE_BUSY); end it.
        let _ = exec(conn, "ROLLBACK");
    }
    for complete in completions {
        complete(&committed);
    }
}

/// Runs the batch's token inserts (`token_inserts`): the completion that answers their
/// callers once the batch's outcome is known.
fn insert_tokens(conn: Result<&Connection, &StoreError>, tokens: Vec<QueuedToken>) -> Completion {
    let mut inserts = Vec::with_capacity(tokens.len());
    let mut waiting: Vec<(oneshot::Sender<StoreResult<bool>>, WriteClaim)> = Vec::with_capacity(tokens.len());
    for QueuedToken { insert, ticket, reply } in tokens {
        match conn.map_err(Clone::clone).and_then(|_| ticket.take()) {
            Ok(claim) => {
                inserts.push(insert);
                waiting.push((reply, claim));
            }
            Err(e) => drop(reply.send(Err(e))),
        }
    }
    let answers = match conn {
        Ok(conn) if !inserts.is_empty() => token_inserts::insert_all(conn, &inserts),
        _ => Vec::new(),
    };
    Box::new(move |commit: &StoreResult<()>| {
        for ((reply, claim), answer) in waiting.into_iter().zip(answers) {
            let _ = reply.send(match commit {
                Ok(()) => answer,
                Err(e) => Err(e.clone()),
            });
            drop(claim);
        }
    })
}

fn note_wal_pages(_: &rusqlite::hooks::Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(pages);
    Ok(())
}

/// Copies the WAL into the database; the next write then starts the WAL afresh.
fn checkpoint(conn: &Connection) {
    WAL_PAGES.set(0);
    // Its row (busy, WAL pages, pages copied) is not needed: busy only means another
    // connection was checkpointing, and the WAL hook brings this back after a batch.
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "WAL checkpoint failed; retried after the next batch");
    }
}

/// Asks the kernel not to let this thread preempt the one that woke it (see the module
/// comment). Failure only costs batch size, so it is logged, not fatal.
fn yield_to_wakeups() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain system call on the calling thread with a valid parameter.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if rc != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "the SQLite writer thread could not switch to SCHED_BATCH");
        }
    }
}

fn failed_batch(why: &str) -> StoreError {
    StoreError::Backend(format!("{why}; nothing in it was written"))
}

/// Adds the jobs already waiting to `batch`; an order for the thread ends the batch
/// and is kept for after it.
fn take_waiting(queue: &mpsc::Receiver<Message>, batch: &mut Batch, after_batch: &mut Option<Message>) {
    while batch.len() < MAX_BATCH && after_batch.is_none() {
        match queue.try_recv() {
            Ok(Message::Job(job)) => batch.jobs.push(job),
            Ok(Message::Token(token)) => batch.tokens.push(*token),
            #[cfg(any(test, feature = "testing"))]
            Ok(order) => *after_batch = Some(order),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn writer() -> (tempfile::TempDir, Writer, Connection) {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY);").unwrap();
        let reader = Connection::open(&path).unwrap();
        (dir, Writer::spawn(conn, 64).unwrap(), reader)
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

    /// Thirty concurrent inserts share transactions with `failing`, submitted the same
    /// way: it must fail with a conflict and leave nothing, and the others all land.
    async fn only_the_failing_job_fails(undo: Undo, failing: fn(&Connection) -> StoreResult<()>) {
        let (_dir, writer, reader) = writer();
        let writer = std::sync::Arc::new(writer);
        writer.submit(undo, insert(1)).await.unwrap();
        // Paused while the jobs queue, so that they share a batch.
        let paused = writer.pause();
        let tasks: Vec<_> = (10..40)
            .map(|v| {
                let w = writer.clone();
                tokio::spawn(async move { w.submit(undo, insert(v)).await })
            })
            .collect();
        let w = writer.clone();
        let failing = tokio::spawn(async move { w.submit(undo, failing).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(paused);
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(matches!(failing.await.unwrap(), Err(StoreError::Conflict(_))));
        let expected: Vec<i64> = std::iter::once(1).chain(10..40).collect();
        assert_eq!(stored(&reader), expected);
    }

    /// A job that fails half-way (its first row is written, its second clashes) is
    /// undone by its savepoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_job_undoes_only_its_own_changes() {
        only_the_failing_job_fails(Undo::Savepoint, |conn| {
            conn.execute("INSERT INTO t (v) VALUES (100)", []).map_err(map_err)?;
            conn.execute("INSERT INTO t (v) VALUES (1)", []).map_err(map_err)?;
            Ok(())
        })
        .await;
    }

    /// Without a savepoint, a failing statement still undoes only itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_single_statement_fails_alone() {
        only_the_failing_job_fails(Undo::Statement, |conn| {
            conn.execute("INSERT INTO t (v) VALUES (100), (1)", []).map_err(map_err).map(drop)
        })
        .await;
    }

    /// When SQLite rolls the batch's transaction back by itself (disk full, I/O
    /// error; here the job does it), no job of the batch reports success and none
    /// after it runs in autocommit mode.
    #[tokio::test]
    async fn a_transaction_rolled_back_under_the_batch_fails_all_of_it() {
        let (_dir, writer, reader) = writer();
        let writer = std::sync::Arc::new(writer);
        // Paused while the three jobs queue, in order, so that they share a batch.
        let paused = writer.pause();
        let w = writer.clone();
        let before = tokio::spawn(async move { w.write_one_statement(insert(1)).await });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let w = writer.clone();
        let rollback =
            tokio::spawn(
                async move { w.write_one_statement(|conn| conn.execute_batch("ROLLBACK").map_err(map_err)).await },
            );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let w = writer.clone();
        let after = tokio::spawn(async move { w.write_one_statement(insert(2)).await });
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(paused);
        assert!(before.await.unwrap().is_err());
        assert!(rollback.await.unwrap().is_err());
        assert!(after.await.unwrap().is_err());
        assert_eq!(stored(&reader), Vec::<i64>::new());
        assert_eq!(writer.write(insert(3)).await.unwrap(), 3, "the writer goes on");
        assert_eq!(stored(&reader), vec![3]);
    }

    /// The writer checkpoints between batches (SQLite's own checkpoint is off under
    /// its WAL hook), so the WAL is rewound and stays near `CHECKPOINT_PAGES`.
    #[tokio::test]
    async fn the_wal_is_checkpointed_and_rewound() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE blobs (b BLOB);").unwrap();
        let writer = Writer::spawn(conn, 64).unwrap();
        // Each job adds at least one 4 KiB page: 3,000 pages in all.
        for _ in 0..3_000 {
            writer
                .write_one_statement(|conn| {
                    conn.execute("INSERT INTO blobs (b) VALUES (zeroblob(4096))", []).map_err(map_err).map(drop)
                })
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("w.db-wal")).unwrap().len();
        assert!(wal < 1_500 * 4_200, "WAL of {wal} bytes");
    }

    /// A panic inside a job fails its batch, not the writer: later writes still work.
    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_writer() {
        let (_dir, writer, reader) = writer();
        let panicked = writer.write(|_conn| -> StoreResult<()> { panic!("job bug") }).await;
        assert!(panicked.is_err());
        assert_eq!(writer.write(insert(7)).await.unwrap(), 7);
        assert_eq!(stored(&reader), vec![7]);
    }

    /// The answer comes after the commit: a reader on another connection sees the row
    /// as soon as `write` returns.
    #[tokio::test]
    async fn a_write_is_visible_when_it_returns() {
        let (_dir, writer, reader) = writer();
        for v in 0..20 {
            writer.write(insert(v)).await.unwrap();
            assert_eq!(stored(&reader).last(), Some(&v));
        }
    }

    /// A full queue refuses the next write at once; a write whose caller gave up
    /// while it waited is never run.
    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_abandoned_writes_never_run() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY);").unwrap();
        let reader = Connection::open(&path).unwrap();
        let writer = std::sync::Arc::new(Writer::spawn(conn, 2).unwrap());
        let resume = writer.pause();
        writer.jobs.try_send(Message::Job(Box::new(|_| None))).map_err(drop).unwrap();
        let w = writer.clone();
        let queued = tokio::spawn(async move { w.write_one_statement(insert(1)).await });
        // On this single-threaded runtime, one yield lets the task queue its write.
        tokio::task::yield_now().await;
        assert!(!queued.is_finished(), "the write waits in the queue");
        let refused = writer.write_one_statement(insert(3)).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(m)) if m.contains("too many")));
        queued.abort();
        let _ = queued.await;
        drop(resume);
        // Refused until the thread has drained the queue, as a client would retry.
        while let Err(e) = writer.write(insert(4)).await {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(stored(&reader), vec![4], "the abandoned write did not run");
    }

    /// The depth `/metrics` shows: writes sent and not yet taken by the thread.
    #[tokio::test]
    async fn depth_counts_the_writes_waiting_for_the_thread() {
        let (_dir, writer, reader) = writer();
        let writer = std::sync::Arc::new(writer);
        assert_eq!(writer.depth(), (0, 64));
        let resume = writer.pause();
        let queued: Vec<_> = (1..=3)
            .map(|v| {
                let w = writer.clone();
                tokio::spawn(async move { w.write_one_statement(insert(v)).await })
            })
            .collect();
        while writer.depth().0 < 3 {
            tokio::task::yield_now().await;
        }
        assert_eq!(writer.depth(), (3, 64));
        drop(resume);
        for q in queued {
            q.await.unwrap().unwrap();
        }
        assert_eq!(writer.depth(), (0, 64), "taken writes no longer count");
        assert_eq!(stored(&reader), vec![1, 2, 3]);
    }
}
