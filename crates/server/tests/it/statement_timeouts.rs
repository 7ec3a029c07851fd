//! PostgreSQL statements that cannot finish (SECURITY-CASES R11): a test connection
//! holds an exclusive lock on `tokens`, so every read and write of a token blocks. The
//! server's `statement_timeout` (`--database-statement-timeout-ms`, here 300 ms) cuts
//! each one off: the request is answered 503 `temporarily_unavailable` with
//! `Retry-After` within that bound plus a round trip, never hangs until the client
//! gives up, writes nothing (the refresh token stays unspent), and the server serves
//! normally the moment the lock is gone.

use std::time::{Duration, Instant};

use portcullis_store::StoreOptions;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::harness::{Peer, assert_error, on_postgres};

const STATEMENT_TIMEOUT: Duration = Duration::from_millis(300);
/// Far above the timeout, far below the 30 s request timeout a hang would run into.
const ANSWERED_WITHIN: Duration = Duration::from_secs(5);

async fn timed(what: &str, r: impl Future<Output = reqwest::Response>) -> reqwest::Response {
    let started = Instant::now();
    let r = r.await;
    assert!(started.elapsed() < ANSWERED_WITHIN, "{what} took {:?}", started.elapsed());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_blocked_by_a_lock_is_503_within_the_statement_timeout_and_recovers() {
    on_postgres("a_statement_blocked_by_a_lock_is_503_within_the_statement_timeout_and_recovers", |a| async move {
        let store_options =
            StoreOptions { statement_timeout: STATEMENT_TIMEOUT, max_connections: 8, ..Default::default() };
        let s = a.peer(Peer { store_options, ..Peer::sharing_clock(&a) }).await;
        let c = s.cc_client("default", "svc", "x").await;
        let app = s.password_client("default", "app").await;
        s.user("default", "alice", "correct horse battery", &[]).await;
        let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
        let r = s.post_form(&s.url("default", "/oauth/token"), Some(&app), &form).await;
        let refresh = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
        // Warm: the clients are cached and the pool's connections open.
        let live = s.token("default", &c, None).await;
        assert!(s.is_active("default", &c, &live).await);
        // Never introspected, so its introspection must read `tokens`.
        let unread = s.token("default", &c, None).await;
        let before = s.row_counts().await;

        let mut locker = PgConnection::connect(&s.database_url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();

        let url = s.url("default", "/oauth/token");
        let r = timed("client_credentials", s.post_form(&url, Some(&c), &[("grant_type", "client_credentials")])).await;
        assert!(r.headers().get("retry-after").is_some());
        assert_error(r, 503, "temporarily_unavailable").await;
        let introspect = s.url("default", "/oauth/introspect");
        let r = timed("introspection", s.post_form(&introspect, Some(&c), &[("token", &unread)])).await;
        assert_error(r, 503, "temporarily_unavailable").await;
        // A token introspected before is answered from the kept read (store::hot_tokens):
        // it needs only the token epoch, which the lock on `tokens` does not block.
        let r = timed("introspection of a kept read", s.post_form(&introspect, Some(&c), &[("token", &live)])).await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        let r = timed("refresh", s.refresh("default", &app, &refresh, None)).await;
        assert_error(r, 503, "temporarily_unavailable").await;

        sqlx::raw_sql("ROLLBACK").execute(&mut locker).await.unwrap();
        assert_eq!(s.row_counts().await, before, "nothing was written while the statements were cut off");
        assert!(s.is_active("default", &c, &live).await);
        assert!(s.is_active("default", &c, &unread).await);
        assert_eq!(s.refresh("default", &app, &refresh, None).await.status(), 200, "the refresh token stayed unspent");
        s.token("default", &c, None).await;
        let ready = s.http.get(format!("{}/readyz", s.base)).send().await.unwrap();
        assert_eq!(ready.status(), 200);
    })
    .await;
}
