//! A fault at every step of a refresh rotation and of a code redemption
//! (SECURITY-CASES R4): the store fails its k-th call, for every call the operation
//! makes, once before the call reaches the database and once after it ran with its
//! answer lost. The client gets an error, never a half success, and the database holds
//! the old state or the new one, never a mix: the old refresh token (or the code) still
//! works and nothing was written, or the rotation (or redemption) is complete.

use std::collections::BTreeMap;

use portcullis_core::admin::ClientSpec;
use serde_json::Value;

use crate::browser::{Browser, REDIRECT, param, pkce_pair, pkce_query};
use crate::faults::{FaultAt, SwitchableStore, switchable_server};
use crate::harness::{TestClient, TestServer, assert_error};

const PASSWORD: &str = "correct horse battery";

/// Runs `request` once with the store recording, and returns the calls it made.
async fn calls_of<F: Future<Output = reqwest::Response>>(store: &SwitchableStore, request: F) -> Vec<&'static str> {
    store.steps.lock().unwrap().arm(None);
    let r = request.await;
    let calls = store.steps.lock().unwrap().disarm();
    assert_eq!(r.status(), 200, "the dry run must succeed");
    calls
}

/// Runs `request` with the k-th store call failing `at`; returns its answer and the
/// call that failed, if the request got that far.
async fn with_fault<F: Future<Output = reqwest::Response>>(
    store: &SwitchableStore,
    k: usize,
    at: FaultAt,
    request: F,
) -> (reqwest::Response, Option<&'static str>) {
    store.steps.lock().unwrap().arm(Some((k, at)));
    let r = request.await;
    let calls = store.steps.lock().unwrap().disarm();
    (r, calls.get(k - 1).copied())
}

/// Rows added per table between two snapshots (tables that did not change left out).
fn added(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    after.iter().filter_map(|(t, n)| (Some(n) != before.get(t)).then(|| (t.clone(), n - before[t]))).collect()
}

/// The database holds no half-written grant, redemption or rotation.
async fn assert_whole(s: &TestServer, what: &str) {
    let broken = portcullis_store::testing::half_written_rows(&s.database_url).await;
    assert!(broken.is_empty(), "{what}: {broken:?}");
}

/// The answer to a request whose store call failed: an error, or (if the server
/// tolerates that call failing) a full success, which the caller then checks.
async fn failed_or_whole(r: reqwest::Response, what: &str) -> Option<Value> {
    if r.status() == 200 {
        return Some(r.json().await.unwrap());
    }
    assert!(r.headers().get("retry-after").is_some(), "{what}");
    assert_error(r, 503, "temporarily_unavailable").await;
    None
}

/// How the faulted runs ended: every one but the lost answer of the write itself
/// leaves the old state.
#[derive(Default)]
struct Outcomes {
    old: usize,
    new: usize,
    tolerated: Vec<String>,
}

impl Outcomes {
    fn check(&self, calls: usize) {
        assert!(self.tolerated.is_empty(), "failures the server answered 200 to: {:?}", self.tolerated);
        assert_eq!(self.new, 1, "only a write whose answer was lost leaves the new state");
        assert_eq!(self.old, 2 * calls - 1);
    }
}

async fn login(s: &TestServer, client: &TestClient) -> String {
    let form = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(client), &form).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned()
}

async fn resource_server(s: &TestServer) -> TestClient {
    let spec = ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() };
    s.client_with("default", spec).await
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_refresh_rotation_leaves_the_old_state_or_the_new() {
    let (s, store) = switchable_server().await;
    let app = s.password_client("default", "app").await;
    let rs = resource_server(&s).await;
    s.user("default", "alice", PASSWORD, &[]).await;
    // One refresh first, so that the dry run sees the calls of a warm server (caches
    // filled), which is what the faulted runs below meet.
    let rt = login(&s, &app).await;
    let warm = s.refresh("default", &app, &rt, None).await.json::<Value>().await.unwrap();
    let rt = warm["refresh_token"].as_str().unwrap().to_owned();
    let calls = calls_of(&store, s.refresh("default", &app, &rt, None)).await;
    assert!(calls.contains(&"rotate_refresh_token"), "{calls:?}");
    println!("a refresh makes these store calls: {calls:?}");
    let mut outcomes = Outcomes::default();

    for k in 1..=calls.len() {
        for at in [FaultAt::Before, FaultAt::After] {
            let rt = login(&s, &app).await;
            let before = s.row_counts().await;
            let (r, failed) = with_fault(&store, k, at, s.refresh("default", &app, &rt, None)).await;
            let what = format!("step {k} ({failed:?}) failing {at:?}");
            assert!(failed.is_some(), "{what}: the refresh made fewer calls than the dry run");
            let answer = failed_or_whole(r, &what).await;
            assert_whole(&s, &what).await;
            let added = added(&before, &s.row_counts().await);
            if let Some(body) = answer {
                outcomes.tolerated.push(what.clone());
                // Tolerated: then it is the whole new state.
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
                let new = body["refresh_token"].as_str().unwrap();
                assert_eq!(s.refresh("default", &app, new, None).await.status(), 200, "{what}");
            } else if added.is_empty() {
                outcomes.old += 1;
                // The old state: the new tokens never existed and the old one works.
                assert_eq!(s.refresh("default", &app, &rt, None).await.status(), 200, "{what}: old token spent");
            } else {
                outcomes.new += 1;
                // The new state, its answer lost: the old token spent (one unspent
                // refresh token per grant, `assert_whole`) and its successors stored.
                assert_eq!((at, failed), (FaultAt::After, Some("rotate_refresh_token")), "{what}: {added:?}");
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
            }
            assert_whole(&s, &what).await;
        }
    }
    outcomes.check(calls.len());
    // The server itself is unharmed.
    let rt = login(&s, &app).await;
    let r = s.refresh("default", &app, &rt, None).await.json::<Value>().await.unwrap();
    assert!(s.is_active("default", &rs, r["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_code_redemption_leaves_the_code_or_the_tokens() {
    let (s, store) = switchable_server().await;
    let public = s.code_client("default", "Invoice App", true).await;
    let rs = resource_server(&s).await;
    s.user("default", "alice", PASSWORD, &[]).await;
    // A fresh browser each time: every code comes from a full sign-in.
    let code = async || {
        let (verifier, challenge) = pkce_pair();
        let params = Browser::new()
            .authorize_and_allow(&s, "default", &pkce_query(&public.id, &challenge), "alice", PASSWORD)
            .await;
        (param(&params, "code").unwrap(), verifier)
    };
    let exchange = |code: String, verifier: String| {
        let form = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", REDIRECT.to_owned()),
            ("client_id", public.id.clone()),
            ("code_verifier", verifier),
        ];
        s.http.post(s.url("default", "/oauth/token")).form(&form).send()
    };
    let (c, v) = code().await;
    assert_eq!(exchange(c, v).await.unwrap().status(), 200, "warm-up exchange");
    let (c, v) = code().await;
    let calls = calls_of(&store, async { exchange(c, v).await.unwrap() }).await;
    assert!(calls.contains(&"redeem_code"), "{calls:?}");
    println!("a code exchange makes these store calls: {calls:?}");
    let mut outcomes = Outcomes::default();

    for k in 1..=calls.len() {
        for at in [FaultAt::Before, FaultAt::After] {
            let (c, v) = code().await;
            let before = s.row_counts().await;
            let (r, failed) = with_fault(&store, k, at, async { exchange(c.clone(), v.clone()).await.unwrap() }).await;
            let what = format!("step {k} ({failed:?}) failing {at:?}");
            assert!(failed.is_some(), "{what}: the exchange made fewer calls than the dry run");
            let answer = failed_or_whole(r, &what).await;
            assert_whole(&s, &what).await;
            let added = added(&before, &s.row_counts().await);
            if let Some(body) = answer {
                outcomes.tolerated.push(what.clone());
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
                assert!(s.is_active("default", &rs, body["access_token"].as_str().unwrap()).await, "{what}");
            } else if added.is_empty() {
                outcomes.old += 1;
                // The code is still good, once.
                let r = exchange(c.clone(), v.clone()).await.unwrap();
                assert_eq!(r.status(), 200, "{what}: the code was spent");
                let t = r.json::<Value>().await.unwrap();
                assert!(s.is_active("default", &rs, t["access_token"].as_str().unwrap()).await, "{what}");
                assert_error(exchange(c, v).await.unwrap(), 400, "invalid_grant").await;
            } else {
                outcomes.new += 1;
                // Redeemed with its answer lost: the tokens are stored, the code spent.
                assert_eq!((at, failed), (FaultAt::After, Some("redeem_code")), "{what}: {added:?}");
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
                assert_error(exchange(c, v).await.unwrap(), 400, "invalid_grant").await;
            }
            assert_whole(&s, &what).await;
        }
    }
    outcomes.check(calls.len());
}
