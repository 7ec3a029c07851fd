//! `kill -9` of `portcullis serve` under load (client credentials, password sign-in
//! with refresh rotation, code flow through the pages), then a restart on the same database
//! (SECURITY-CASES R4, R6): every token whose answer reached its client is active,
//! and no grant, rotation or issue is half written. The server answers a token
//! request only after its batch has committed (the SQLite writer thread, the
//! PostgreSQL group commit), so nothing a client holds can be lost with the process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{self, Accounts, Kind, Seen};
use crate::{Workspace, serve};

/// Killed and restarted this many times per database, under fresh load each time.
const ROUNDS: usize = 3;
/// Answers the load gets before each kill, so that it is in full flow.
const ANSWERS_BEFORE_KILL: usize = 150;

const CLIENTS: [Kind; 8] = [
    Kind::ClientCredentials,
    Kind::ClientCredentials,
    Kind::ClientCredentials,
    Kind::Rotation,
    Kind::Rotation,
    Kind::Rotation,
    Kind::CodeExchange,
    Kind::CodeExchange,
];

async fn killed_under_load_keeps_every_answered_token(w: Workspace) {
    let accounts = Accounts::create(&w);
    let mut seen: Vec<Seen> = Vec::new();
    let (mut server, mut base) = serve(&w);
    for round in 1..=ROUNDS {
        let progress = Arc::new(load::Progress::default());
        let load = {
            let (base, progress) = (base.clone(), progress.clone());
            let accounts = accounts.clone();
            tokio::spawn(async move { load::run(&base, &accounts, &CLIENTS, progress).await })
        };
        let started = Instant::now();
        while !progress.reached(ANSWERS_BEFORE_KILL) {
            assert!(started.elapsed() < Duration::from_secs(60), "round {round}: the load stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // SIGKILL: no handler, no flush, no shutdown; requests are in flight.
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        let round_seen = load.await.unwrap();
        for s in &round_seen {
            assert!(s.unexpected.is_empty(), "round {round}: {:?}", s.unexpected);
        }
        seen.extend(round_seen);

        (server, base) = serve(&w);
        let must: Vec<String> = seen.iter().flat_map(Seen::must_be_active).cloned().collect();
        let answers = load::introspect_all(&base, &accounts, &must).await;
        let lost = load::inactive(&answers);
        assert!(lost.is_empty(), "round {round}: {} of {} answered tokens lost", lost.len(), must.len());
        let broken = portcullis_store::testing::half_written_rows(&w.db()).await;
        assert!(broken.is_empty(), "round {round}: {broken:?}");
        assert!(seen.iter().any(|s| !s.rotates && !s.refresh.is_empty()), "round {round}: no code was exchanged");
        let stored = portcullis_store::testing::row_counts(&w.db()).await["tokens"];
        let answered: usize = seen.iter().map(|s| s.access.len() + s.refresh.len()).sum();
        assert!(stored as usize >= answered, "round {round}: {stored} tokens stored, {answered} answered");
    }
}

#[tokio::test]
async fn kill_9_under_load_on_sqlite_loses_no_answered_token() {
    killed_under_load_keeps_every_answered_token(Workspace::new()).await;
}

#[tokio::test]
async fn kill_9_under_load_on_postgres_loses_no_answered_token() {
    let Some(db) = portcullis_store::testing::TestDatabase::create("kill_9_under_load").await else { return };
    let outcome = tokio::spawn(killed_under_load_keeps_every_answered_token(Workspace::on(&db.url))).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
