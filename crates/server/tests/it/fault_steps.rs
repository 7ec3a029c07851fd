//! A fault at every step of a refresh rotation and of a code redemption
//! (SECURITY-CASES R4): the store fails its k-th call, for every call the operation
//! makes, once before the call reaches the database and once after it ran with its
//! answer lost. The client gets an error, never a half success, and the database holds
//! the old state or the new one, never a mix: the old refresh token (or the code) still
//! works and nothing was written, or the rotation (or redemption) is complete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::admin::ClientSpec;
use portcullis_server::HttpSettings;
use serde_json::Value;

use crate::browser::{Browser, REDIRECT, param, pkce_pair, pkce_query};
use crate::faults::{FaultAt, SwitchableStore, switchable_server, switchable_server_on};
use crate::harness::{TestClient, TestServer, assert_error};

const PASSWORD: &str = "correct horse battery";

/// Runs `request` once with the store recording, and returns the calls it made,
/// each with its occurrence (the first `get_client`, …).
async fn calls_of<F: Future<Output = reqwest::Response>>(
    store: &SwitchableStore,
    request: F,
) -> Vec<(&'static str, usize)> {
    store.steps.lock().unwrap().arm(None);
    let r = request.await;
    let calls = store.steps.lock().unwrap().disarm().calls;
    assert_eq!(r.status(), 200, "the dry run must succeed");
    calls.iter().enumerate().map(|(i, c)| (*c, calls[..=i].iter().filter(|d| *d == c).count())).collect()
}

/// A request run with one store call failing.
struct Faulted {
    response: reqwest::Response,
    /// The call that failed, if the request made it.
    failed: Option<&'static str>,
    /// For a fault `After`: how that call really ended.
    ran: Option<Result<(), String>>,
    what: String,
}

impl Faulted {
    /// Whether `write` is the call that failed and it had committed before its
    /// answer was lost: the one case that must leave the new state.
    fn committed(&self, write: &str) -> bool {
        self.failed == Some(write) && matches!(self.ran, Some(Ok(())))
    }

    /// The answer is an error, never a half success: 503 with `Retry-After`.
    async fn assert_refused(self) {
        let what = self.what;
        assert!(self.response.headers().get("retry-after").is_some(), "{what}");
        assert_error(self.response, 503, "temporarily_unavailable").await;
    }
}

async fn with_fault<F: Future<Output = reqwest::Response>>(
    store: &SwitchableStore,
    (method, nth): (&'static str, usize),
    at: FaultAt,
    request: F,
) -> Faulted {
    store.steps.lock().unwrap().arm(Some((method, nth, at)));
    let response = request.await;
    let report = store.steps.lock().unwrap().disarm();
    let what = format!("{method} #{nth} failing {at:?} (calls: {:?})", report.calls);
    if let Some(Err(e)) = &report.ran {
        // A real failure under the injected one: the old state is then expected.
        println!("{what}: the call itself failed: {e}");
    }
    Faulted { response, failed: report.fired.then_some(method), ran: report.ran, what }
}

/// Rows added per table between two snapshots (tables that did not change left out).
fn added(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    after.iter().filter(|&(t, n)| Some(n) != before.get(t)).map(|(t, n)| (t.clone(), n - before[t])).collect()
}

/// The database holds no half-written grant, redemption or rotation.
async fn assert_whole(s: &TestServer, what: &str) {
    let broken = portcullis_store::testing::half_written_rows(&s.database_url).await;
    assert!(broken.is_empty(), "{what}: {broken:?}");
}

/// Counts the runs that left the new state: exactly one, the run whose write
/// committed with its answer lost, unless that write really failed (then none).
#[derive(Default)]
struct NewStates {
    committed: usize,
    write_failed: bool,
}

impl NewStates {
    fn note(&mut self, faulted: &Faulted, write: &str) -> bool {
        let committed = faulted.committed(write);
        self.committed += usize::from(committed);
        self.write_failed |= faulted.failed == Some(write) && matches!(faulted.ran, Some(Err(_)));
        committed
    }

    fn check(&self) {
        assert!(self.committed == 1 || (self.committed == 0 && self.write_failed), "{} new states", self.committed);
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

async fn refresh_rotation_case(s: TestServer, store: Arc<SwitchableStore>) {
    let app = s.password_client("default", "app").await;
    let rs = resource_server(&s).await;
    s.user("default", "alice", PASSWORD, &[]).await;
    // One refresh first, so that the dry run sees the calls of a warm server (caches
    // filled), which is what the faulted runs below meet.
    let rt = login(&s, &app).await;
    let warm = s.refresh("default", &app, &rt, None).await.json::<Value>().await.unwrap();
    let rt = warm["refresh_token"].as_str().unwrap().to_owned();
    let calls = calls_of(&store, s.refresh("default", &app, &rt, None)).await;
    assert!(calls.contains(&("rotate_refresh_token", 1)), "{calls:?}");
    println!("a refresh makes these store calls: {calls:?}");
    let mut new_states = NewStates::default();
    for &step in &calls {
        for at in [FaultAt::Before, FaultAt::After] {
            let rt = login(&s, &app).await;
            let before = s.row_counts().await;
            let faulted = with_fault(&store, step, at, s.refresh("default", &app, &rt, None)).await;
            if faulted.failed.is_none() {
                // Only a cache refresh the dry run happened to make (`Steps::arm`).
                assert!(step.0 != "rotate_refresh_token", "{}: the rotation was not made", faulted.what);
                assert_eq!(faulted.response.status(), 200, "{}", faulted.what);
                continue;
            }
            let (what, committed) = (faulted.what.clone(), new_states.note(&faulted, "rotate_refresh_token"));
            faulted.assert_refused().await;
            assert_whole(&s, &what).await;
            let added = added(&before, &s.row_counts().await);
            if committed {
                // The new state, its answer lost: the old token spent (one unspent
                // refresh token per grant, `assert_whole`) and its successors stored.
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
            } else {
                // The old state: the new tokens never existed and the old one works.
                assert_eq!(added, BTreeMap::new(), "{what}");
                assert_eq!(s.refresh("default", &app, &rt, None).await.status(), 200, "{what}: old token spent");
            }
            assert_whole(&s, &what).await;
        }
    }
    new_states.check();
    // The server itself is unharmed.
    let rt = login(&s, &app).await;
    let r = s.refresh("default", &app, &rt, None).await.json::<Value>().await.unwrap();
    assert!(s.is_active("default", &rs, r["access_token"].as_str().unwrap()).await);
}

async fn code_redemption_case(s: TestServer, store: Arc<SwitchableStore>) {
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
    assert!(calls.contains(&("redeem_code", 1)), "{calls:?}");
    println!("a code exchange makes these store calls: {calls:?}");
    let mut new_states = NewStates::default();
    for &step in &calls {
        for at in [FaultAt::Before, FaultAt::After] {
            let (c, v) = code().await;
            let before = s.row_counts().await;
            let faulted = with_fault(&store, step, at, async { exchange(c.clone(), v.clone()).await.unwrap() }).await;
            if faulted.failed.is_none() {
                assert!(step.0 != "redeem_code", "{}: the redemption was not made", faulted.what);
                assert_eq!(faulted.response.status(), 200, "{}", faulted.what);
                continue;
            }
            let (what, committed) = (faulted.what.clone(), new_states.note(&faulted, "redeem_code"));
            faulted.assert_refused().await;
            assert_whole(&s, &what).await;
            let added = added(&before, &s.row_counts().await);
            if committed {
                // Redeemed with its answer lost: the tokens are stored, the code spent.
                assert_eq!(added, BTreeMap::from([("tokens".into(), 2)]), "{what}");
            } else {
                // The code is still good, once.
                assert_eq!(added, BTreeMap::new(), "{what}");
                let r = exchange(c.clone(), v.clone()).await.unwrap();
                assert_eq!(r.status(), 200, "{what}: the code was spent");
                let t = r.json::<Value>().await.unwrap();
                assert!(s.is_active("default", &rs, t["access_token"].as_str().unwrap()).await, "{what}");
            }
            assert_error(exchange(c, v).await.unwrap(), 400, "invalid_grant").await;
            assert_whole(&s, &what).await;
        }
    }
    new_states.check();
}

/// Runs `case` on a switchable server over a fresh PostgreSQL database.
async fn on_postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(TestServer, Arc<SwitchableStore>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = portcullis_store::testing::TestDatabase::create(name).await else { return };
    let url = db.url.clone();
    let outcome = tokio::spawn(async move {
        let settings = HttpSettings { header_read_timeout: Duration::from_secs(2), ..Default::default() };
        let (s, store) = switchable_server_on(&url, settings).await;
        case(s, store).await
    })
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_refresh_rotation_leaves_the_old_state_or_the_new_on_sqlite() {
    let (s, store) = switchable_server().await;
    refresh_rotation_case(s, store).await;
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_refresh_rotation_leaves_the_old_state_or_the_new_on_postgres() {
    on_postgres("fault_steps_refresh", refresh_rotation_case).await;
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_code_redemption_leaves_the_code_or_the_tokens_on_sqlite() {
    let (s, store) = switchable_server().await;
    code_redemption_case(s, store).await;
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_code_redemption_leaves_the_code_or_the_tokens_on_postgres() {
    on_postgres("fault_steps_code", code_redemption_case).await;
}
