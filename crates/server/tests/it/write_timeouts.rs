//! A write never commits after its request was answered 408 or 503, the SQLite
//! writer's queue is bounded, and `/readyz` sees a dead writer thread (issue 10).

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::{Clock, ManualClock, SystemClock};
use portcullis_core::store::Store;
use portcullis_server::HttpSettings;
use portcullis_store::{SqliteStore, StoreOptions};
use serde_json::Value;

use crate::harness::{TestServer, assert_error};

/// A server (timing out after `timeout`) whose store is a SQLite store the test holds
/// (to pause or crash its writer), and a second, ordinary instance on the same file.
async fn servers(
    timeout: Duration,
    options: StoreOptions,
) -> (tempfile::TempDir, Arc<SqliteStore>, TestServer, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let plain = TestServer::instance(&url, clock.clone(), |s| s).await;
    let lite = Arc::new(SqliteStore::connect(&url, &options).await.unwrap());
    let store: Arc<dyn Store> = lite.clone();
    let settings =
        HttpSettings { request_timeout: timeout, header_read_timeout: Duration::from_secs(2), ..Default::default() };
    let held = TestServer::instance_with_settings(&url, clock, move |_| store, settings).await;
    (dir, lite, held, plain)
}

async fn refresh_token(s: &TestServer) -> (crate::harness::TestClient, String) {
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &form).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    (c, body["refresh_token"].as_str().unwrap().to_owned())
}

/// The rotation waits in the writer's queue (paused, as behind a slow commit) until
/// the request has been answered 408; it must then never run, so the client's retry
/// with the same refresh token succeeds instead of counting as reuse.
#[tokio::test]
async fn a_refresh_that_timed_out_leaves_its_token_unspent_and_the_grant_live() {
    let (_dir, lite, s, plain) = servers(Duration::from_millis(300), StoreOptions::default()).await;
    let (c, rt) = refresh_token(&plain).await;
    let resume = lite.pause_writer();
    let timed_out = s.refresh("default", &c, &rt, None).await;
    assert_eq!(timed_out.status(), 408);
    let why: Value = timed_out.json().await.expect("a JSON error body");
    assert_eq!(why["error"], "temporarily_unavailable", "{why}");
    drop(resume);
    // Queued behind the abandoned rotation, so it runs after the writer has seen it.
    let r = s.refresh("default", &c, &rt, None).await;
    assert_eq!(r.status(), 200, "the retry counted as reuse");
    let body: Value = r.json().await.unwrap();
    let rs = plain
        .client_with(
            "default",
            portcullis_core::admin::ClientSpec {
                name: Some("rs".into()),
                resource_server: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert!(plain.is_active("default", &rs, body["access_token"].as_str().unwrap()).await, "the grant is live");
    assert_eq!(plain.refresh("default", &c, body["refresh_token"].as_str().unwrap(), None).await.status(), 200);
}

/// A full queue answers 503 at once: of two token requests behind a paused writer
/// with room for one, one is refused while the other still waits, and that one
/// succeeds once the writer goes on.
#[tokio::test]
async fn a_full_writer_queue_is_503_at_once() {
    let options = StoreOptions { sqlite_write_queue: 1, ..Default::default() };
    let (_dir, lite, s, plain) = servers(Duration::from_secs(30), options).await;
    let c = plain.cc_client("default", "x", "a").await;
    // Authenticates once, so that both requests below only write.
    plain.token("default", &c, None).await;
    let s = Arc::new(s);
    let resume = lite.pause_writer();
    let request = |s: Arc<TestServer>, c: crate::harness::TestClient| async move {
        s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await
    };
    let mut first = tokio::spawn(request(s.clone(), c.clone()));
    let mut second = tokio::spawn(request(s.clone(), c.clone()));
    let (refused, waiting) = tokio::select! {
        r = &mut first => (r.unwrap(), second),
        r = &mut second => (r.unwrap(), first),
    };
    assert!(refused.headers().get("retry-after").is_some());
    assert_error(refused, 503, "temporarily_unavailable").await;
    drop(resume);
    assert_eq!(waiting.await.unwrap().status(), 200);
}

/// A writer thread that died makes `/readyz` 503 with the reason, and token writes 503.
#[tokio::test]
async fn a_dead_sqlite_writer_makes_readyz_503() {
    let (_dir, lite, s, plain) = servers(Duration::from_secs(30), StoreOptions::default()).await;
    let c = plain.cc_client("default", "x", "a").await;
    let readyz = || s.http.get(format!("{}/readyz", s.base)).send();
    assert_eq!(readyz().await.unwrap().status(), 200);
    lite.crash_writer();
    let mut tries = 0;
    let r = loop {
        let r = readyz().await.unwrap();
        if r.status() != 200 {
            break r;
        }
        tries += 1;
        assert!(tries < 1000, "readyz never noticed the dead writer");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(r.headers().get("retry-after").is_some());
    let body = assert_error(r, 503, "temporarily_unavailable").await;
    assert!(body["error_description"].as_str().unwrap().contains("writer"), "{body}");
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await;
    assert_error(r, 503, "temporarily_unavailable").await;
}
