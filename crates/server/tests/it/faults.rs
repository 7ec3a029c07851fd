//! Storage failures seen on the wire (SECURITY-CASES R5): a store that is down makes
//! every endpoint answer 503 `temporarily_unavailable` with `Retry-After`; never
//! `active: false`, never a silent 200 from revocation, never a panic.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::admin_token::AdminTokenRecord;
use portcullis_core::audit::{AuditQuery, AuditRecord};
use portcullis_core::clock::{Clock, ManualClock, SystemClock};
use portcullis_core::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord, StoredToken,
    TokenRecord, User,
};
use portcullis_core::org::{ApiKey, App, Permission, StoredApiKey};
use portcullis_core::request_writes::{RequestWrites, WriteClaim};
use portcullis_core::store::{
    AdminStore, AdminTokenStore, AuditStore, ClientStore, CodeRedemption, FailureCount, FailureKey, GrantStore,
    OrgStore, PendingLimits, PurgeCutoffs, PurgeReport, Rotation, Store, StoreError, StoreLoad, StoreResult,
    ThrottleStore, TokenStore, UserStore,
};
use portcullis_server::HttpSettings;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::browser::{Browser, REDIRECT, hidden, location, param, pkce_authorize_url, pkce_pair, pkce_query};
use crate::harness::{TestServer, assert_error};

/// Delegates to a real store until switched off.
pub struct SwitchableStore {
    inner: Arc<dyn Store>,
    pub down: AtomicBool,
    /// Makes the next store call panic, as a bug in a handler would.
    pub panic: AtomicBool,
    /// Holds the next refresh rotation, claimed as a write of its request (as a
    /// PostgreSQL transaction in progress is), until the receiver resolves; the
    /// sender says that it has started.
    pub rotation_gate: Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    /// Counts store calls while armed and fails the chosen one (`fault_steps.rs`).
    pub steps: Mutex<Steps>,
}

/// Where an armed fault strikes: before the call reaches the database, or after it
/// ran with its answer lost (a commit whose acknowledgement never arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAt {
    Before,
    After,
}

/// The store calls made since `arm`, and the one that fails.
#[derive(Debug, Default)]
pub struct Steps {
    armed: bool,
    calls: Vec<&'static str>,
    /// The call that fails: the n-th (from 1) call of this method, and where.
    fail: Option<(&'static str, usize, FaultAt)>,
    report: FaultReport,
}

/// What an armed run did.
#[derive(Debug, Default)]
pub struct FaultReport {
    pub calls: Vec<&'static str>,
    /// Whether the chosen call was made (and so failed).
    pub fired: bool,
    /// For a fault `After`: how the real call ended before its answer was replaced.
    pub ran: Option<Result<(), String>>,
}

impl Steps {
    /// Records calls from now on, failing the chosen one if any. It is named by
    /// method and occurrence, not by position, so that a cache refresh (a realm read
    /// once its second is up) does not shift it.
    pub fn arm(&mut self, fail: Option<(&'static str, usize, FaultAt)>) {
        *self = Self { armed: true, fail, ..Self::default() };
    }

    pub fn disarm(&mut self) -> FaultReport {
        let Self { calls, mut report, .. } = std::mem::take(self);
        report.calls = calls;
        report
    }
}

impl SwitchableStore {
    fn check(&self) -> StoreResult<()> {
        if self.panic.swap(false, Ordering::SeqCst) {
            panic!("injected panic");
        }
        if self.down.load(Ordering::SeqCst) { Err(StoreError::Unavailable("injected outage".into())) } else { Ok(()) }
    }

    /// Records `method` if armed, and says whether (and where) this call fails.
    fn step(&self, method: &'static str) -> Option<FaultAt> {
        let mut steps = self.steps.lock().unwrap();
        if !steps.armed {
            return None;
        }
        steps.calls.push(method);
        let nth = steps.calls.iter().filter(|c| **c == method).count();
        let at = steps.fail.filter(|(m, n, _)| *m == method && *n == nth).map(|(.., at)| at);
        steps.report.fired |= at.is_some();
        at
    }

    fn check_down(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) { Err(StoreError::Unavailable("injected outage".into())) } else { Ok(()) }
    }

    async fn hold(&self, method: &str) -> StoreResult<WriteClaim> {
        let gate = if method == "rotate_refresh_token" { self.rotation_gate.lock().unwrap().take() } else { None };
        let Some((started, open)) = gate else { return Ok(WriteClaim::none()) };
        let claim = WriteClaim::of(RequestWrites::current().as_ref())?;
        let _ = started.send(());
        let _ = open.await;
        Ok(claim)
    }
}

fn injected_fault() -> StoreError {
    StoreError::Unavailable("injected fault".into())
}

/// Writes one role's impl: every method checks the switch, then delegates
/// (`backend`, in `AdminStore`, only delegates).
macro_rules! switchable {
    ($role:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* } $($backend:item)*) => {
        #[async_trait]
        impl $role for SwitchableStore {
            $($backend)*
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.check()?;
                    let fault = self.step(stringify!($name));
                    if fault == Some(FaultAt::Before) {
                        return Err(injected_fault());
                    }
                    let _held = self.hold(stringify!($name)).await?;
                    let outcome = self.inner.$name($($arg),*).await;
                    if fault == Some(FaultAt::After) {
                        self.steps.lock().unwrap().report.ran = Some(outcome.as_ref().map(drop).map_err(|e| e.to_string()));
                        return Err(injected_fault());
                    }
                    outcome
                }
            )*
        }
    };
}

switchable! {
    AdminStore {
        fn ping(&self) -> StoreResult<()>;
        fn pepper(&self, c: &[u8]) -> StoreResult<Vec<u8>>;
        fn setting(&self, n: &str) -> StoreResult<Option<Vec<u8>>>;
        fn put_setting(&self, n: &str, v: &[u8], keep: bool) -> StoreResult<Vec<u8>>;
        fn create_realm(&self, r: &Realm, k: &SigningKeyRecord) -> StoreResult<()>;
        fn get_realm(&self, n: &str) -> StoreResult<Option<Realm>>;
        fn list_realms(&self) -> StoreResult<Vec<Realm>>;
        fn update_realm(&self, r: &Realm) -> StoreResult<()>;
        fn delete_realm(&self, n: &str) -> StoreResult<()>;
        fn signing_keys(&self, r: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>>;
        fn rotate_signing_key(&self, k: &SigningKeyRecord, now: i64, until: i64) -> StoreResult<()>;
        fn purge_expired(&self, c: PurgeCutoffs, batch: u32) -> StoreResult<PurgeReport>;
        fn table_sizes(&self) -> StoreResult<Vec<(&'static str, i64)>>;
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn load(&self) -> StoreLoad {
        self.inner.load()
    }
}

/// By hand rather than through `switchable!`: the audit writer's background task
/// calls these at any time, and must not take the one panic meant for a handler.
#[async_trait]
impl AuditStore for SwitchableStore {
    async fn insert_audit_events(&self, e: &[AuditRecord]) -> StoreResult<()> {
        self.check_down()?;
        self.inner.insert_audit_events(e).await
    }
    async fn list_audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        self.check_down()?;
        self.inner.list_audit_events(q).await
    }
    async fn purge_audit_events(&self, before: i64, batch: u32) -> StoreResult<u64> {
        self.check_down()?;
        self.inner.purge_audit_events(before, batch).await
    }
}

switchable! {
    ClientStore {
        fn create_client(&self, c: &Client) -> StoreResult<()>;
        fn get_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
        fn find_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
        fn list_clients(&self, r: &str) -> StoreResult<Vec<Client>>;
        fn update_client(&self, c: &Client) -> StoreResult<()>;
        fn delete_client(&self, r: &str, id: &str) -> StoreResult<()>;
        fn rotate_client_secret(&self, r: &str, id: &str, h: &[u8], at: Option<i64>) -> StoreResult<()>;
    }
}

switchable! {
    TokenStore {
        fn insert_token_if_client_at(&self, t: &TokenRecord, revision: i64) -> StoreResult<bool>;
        fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>>;
        fn get_token_and_client_revision(&self, id: &[u8; 16], realm: &str, client_id: &str) -> StoreResult<(Option<StoredToken>, Option<i64>)>;
        fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn insert_tokens(&self, t: &[TokenRecord]) -> StoreResult<()>;
    }
}

switchable! {
    GrantStore {
        fn create_grant(&self, g: &Grant, t: &[TokenRecord]) -> StoreResult<()>;
        fn create_grant_with_code(&self, g: &Grant, c: &AuthorizationCode, r: Option<&[u8; 16]>) -> StoreResult<()>;
        fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>>;
        fn redeem_code(&self, id: &[u8; 16], now: i64, t: &[TokenRecord]) -> StoreResult<CodeRedemption>;
        fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>>;
        fn list_grants(&self, r: &str, u: Option<&str>, c: Option<&str>) -> StoreResult<Vec<Grant>>;
        fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn rotate_refresh_token(&self, old: &[u8; 16], now: i64, g: Option<i64>, t: &[TokenRecord]) -> StoreResult<Rotation>;
    }
}

switchable! {
    UserStore {
        fn create_user(&self, u: &User) -> StoreResult<()>;
        fn get_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
        fn find_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
        fn list_users(&self, r: &str) -> StoreResult<Vec<User>>;
        fn update_user(&self, u: &User) -> StoreResult<()>;
        fn set_user_password(&self, r: &str, id: &str, h: &str, now: i64) -> StoreResult<()>;
        fn delete_user(&self, r: &str, id: &str) -> StoreResult<()>;
        fn create_session(&self, s: &BrowserSession) -> StoreResult<()>;
        fn get_session(&self, h: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>>;
        fn delete_session(&self, h: &[u8; 32]) -> StoreResult<()>;
        fn create_authorization_request(&self, r: &AuthorizationRequest) -> StoreResult<()>;
        fn get_authorization_request(&self, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>>;
        fn create_capped_authorization_request(&self, s: Option<&BrowserSession>, r: &AuthorizationRequest, now: i64, l: PendingLimits) -> StoreResult<bool>;
        fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool>;
        fn get_consent(&self, r: &str, u: &str, c: &str) -> StoreResult<Option<String>>;
        fn save_consent(&self, r: &str, u: &str, c: &str, sc: &str, now: i64) -> StoreResult<()>;
    }
}

switchable! {
    ThrottleStore {
        fn reserve_sign_in_failure(&self, l: &[(FailureKey, u32)], now: i64, w: i64) -> StoreResult<Option<Vec<FailureCount>>>;
        fn release_sign_in_failure(&self, r: &[(FailureKey, i64)]) -> StoreResult<()>;
        fn sign_in_failures(&self, k: &FailureKey, now: i64, w: i64) -> StoreResult<u32>;
        fn clear_sign_in_failures(&self, r: &str, a: &str) -> StoreResult<u64>;
    }
}

switchable! {
    AdminTokenStore {
        fn create_admin_token(&self, t: &AdminTokenRecord) -> StoreResult<()>;
        fn get_admin_token(&self, id: &[u8; 16]) -> StoreResult<Option<AdminTokenRecord>>;
        fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>>;
        fn revoke_admin_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    }
}

switchable! {
    OrgStore {
        fn create_app(&self, a: &App, c: &Client) -> StoreResult<()>;
        fn find_app(&self, r: &str, id: &str) -> StoreResult<Option<App>>;
        fn list_apps(&self, r: &str) -> StoreResult<Vec<App>>;
        fn reset_app(&self, r: &str, id: &str, now: i64) -> StoreResult<u64>;
        fn delete_app(&self, r: &str, id: &str) -> StoreResult<()>;
        fn update_app(&self, r: &str, id: &str, name: &str, now: i64) -> StoreResult<()>;
        fn create_api_key(&self, k: &ApiKey) -> StoreResult<()>;
        fn get_api_key(&self, id: &[u8; 16]) -> StoreResult<Option<StoredApiKey>>;
        fn list_api_keys(&self, r: &str, app: Option<&str>) -> StoreResult<Vec<ApiKey>>;
        fn revoke_api_key(&self, r: &str, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn update_api_key(&self, k: &ApiKey) -> StoreResult<bool>;
        fn touch_api_keys(&self, used: &[([u8; 16], i64)]) -> StoreResult<()>;
        fn create_customer_grant(&self, g: &Grant, k: &[u8; 16], t: &[TokenRecord]) -> StoreResult<()>;
        fn create_permission(&self, r: &str, n: &str, now: i64) -> StoreResult<Permission>;
        fn list_permissions(&self, r: &str) -> StoreResult<Vec<Permission>>;
        fn delete_permission(&self, r: &str, n: &str) -> StoreResult<()>;
        fn set_role_permissions(&self, r: &str, role: &str, p: &[String]) -> StoreResult<()>;
        fn list_role_permissions(&self, r: &str) -> StoreResult<Vec<(String, Vec<String>)>>;
        fn permissions_of_roles(&self, r: &str, roles: &[String]) -> StoreResult<Vec<String>>;
    }
}

/// A server whose store can be switched off or made to panic.
pub async fn switchable_server() -> (TestServer, Arc<SwitchableStore>) {
    switchable_server_with(HttpSettings { header_read_timeout: Duration::from_secs(2), ..Default::default() }).await
}

async fn switchable_server_with(settings: HttpSettings) -> (TestServer, Arc<SwitchableStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let (mut s, store) = switchable_server_on(&url, settings).await;
    s.keep_dir(dir);
    (s, store)
}

/// A switchable server on the existing database at `url` (e.g. a fresh PostgreSQL one).
pub async fn switchable_server_on(url: &str, settings: HttpSettings) -> (TestServer, Arc<SwitchableStore>) {
    let switch = Arc::new(Mutex::new(None::<Arc<SwitchableStore>>));
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let wrap = |inner| {
        let wrapped = Arc::new(SwitchableStore {
            inner,
            down: AtomicBool::new(false),
            panic: AtomicBool::new(false),
            rotation_gate: Mutex::new(None),
            steps: Mutex::new(Steps::default()),
        });
        *switch.lock().unwrap() = Some(wrapped.clone());
        wrapped as Arc<dyn Store>
    };
    let s = TestServer::instance_with_settings(url, clock, wrap, settings).await;
    let store = switch.lock().unwrap().clone().unwrap();
    (s, store)
}

fn assert_page_503(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status(), 503, "{what}");
    assert!(r.headers().get("retry-after").is_some(), "{what}");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{what}");
}

/// Every endpoint that reads or writes the database, with the database down: JSON
/// endpoints answer 503 `temporarily_unavailable` with `Retry-After`, pages the HTML
/// error page with 503; `/healthz` stays 200; all of it works again afterwards.
#[tokio::test]
async fn an_unreachable_database_is_503_everywhere_and_recovers() {
    let (s, store) = switchable_server().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let pc = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let login = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&pc), &login).await;
    let rt = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
    // A code not yet exchanged, a login page and a consent page, all for later.
    let public = s.code_client("default", "Invoice App", true).await;
    let (verifier, challenge) = pkce_pair();
    let code_params = Browser::new()
        .authorize_and_allow(&s, "default", &pkce_query(&public.id, &challenge), "alice", "correct horse battery")
        .await;
    let code = param(&code_params, "code").unwrap();
    let authorize = pkce_authorize_url(&s, &public.id, &challenge, &[]);
    let at_login = Browser::new();
    let login_page = at_login.get(&authorize).await.text().await.unwrap();
    let at_consent = Browser::new();
    let page = at_consent.get(&authorize).await.text().await.unwrap();
    let r = at_consent.login(&s, "default", &page, "alice", "correct horse battery").await;
    let consent_page = at_consent.get(&location(&r)).await.text().await.unwrap();
    assert!(hidden(&consent_page, "csrf").is_some(), "a consent page");
    // Never requested over HTTP, so nothing of it is cached.
    s.realm("cold", portcullis_core::model::TokenFormat::Jwt, portcullis_core::model::SigningAlg::Es256).await;

    store.down.store(true, Ordering::SeqCst);
    let with_client: [(&str, Vec<(&str, &str)>); 7] = [
        ("/oauth/token", vec![("grant_type", "client_credentials")]),
        ("/oauth/introspect", vec![("token", t.as_str())]),
        ("/oauth/revoke", vec![("token", t.as_str())]),
        ("/oauth/check_token", vec![("token", t.as_str())]),
        ("/oauth/revoke_token", vec![("token", t.as_str())]),
        ("/oauth/token", login.to_vec()),
        ("/oauth/token", vec![("grant_type", "refresh_token"), ("refresh_token", rt.as_str())]),
    ];
    for (i, (path, form)) in with_client.iter().enumerate() {
        let client = if i < 5 { &c } else { &pc };
        let r = s.post_form(&s.url("default", path), Some(client), form).await;
        assert!(r.headers().get("retry-after").is_some(), "{path} {form:?}");
        assert_error(r, 503, "temporarily_unavailable").await;
    }
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", public.id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let r = s.post_form(&s.url("default", "/oauth/token"), None, &exchange).await;
    assert!(r.headers().get("retry-after").is_some(), "code exchange");
    assert_error(r, 503, "temporarily_unavailable").await;
    for url in [
        s.url("cold", "/jwks.json"),
        s.url("cold", "/.well-known/oauth-authorization-server"),
        format!("{}/.well-known/oauth-authorization-server/realms/cold", s.base),
        format!("{}/readyz", s.base),
    ] {
        let r = s.http.get(&url).send().await.unwrap();
        assert!(r.headers().get("retry-after").is_some(), "{url}");
        assert_error(r, 503, "temporarily_unavailable").await;
    }
    assert_page_503(&Browser::new().get(&authorize).await, "authorize GET");
    assert_page_503(&at_login.login(&s, "default", &login_page, "alice", "correct horse battery").await, "login POST");
    assert_page_503(&at_consent.decide(&s, "default", &consent_page, "allow").await, "consent POST");
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    store.down.store(false, Ordering::SeqCst);
    assert!(s.is_active("default", &c, &t).await, "the revocations during the outage must not have happened");
    let r = s.http.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.refresh("default", &pc, &rt, None).await.status(), 200, "the refresh token was not spent");
    let r = s.post_form(&s.url("default", "/oauth/token"), None, &exchange).await;
    assert_eq!(r.status(), 200, "the code was not spent");
    assert_eq!(at_consent.decide(&s, "default", &consent_page, "allow").await.status(), 303);
}

/// A write in flight when the request's time is up (here a rotation held by the
/// store, as a PostgreSQL transaction is while it commits) is waited for, and the
/// client gets its real outcome: 200 with the new tokens, never a 408 for a rotation
/// that committed.
#[tokio::test]
async fn a_timeout_waits_for_a_write_in_flight_and_reports_it() {
    let settings = HttpSettings {
        // Long enough for the set-up's password sign-in (argon2) on a loaded machine:
        // at 200 ms it timed out there and the test failed before its point.
        request_timeout: Duration::from_secs(2),
        header_read_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (s, store) = switchable_server_with(settings).await;
    let pc = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let login = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&pc), &login).await;
    let rt = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();

    let (started_tx, started) = oneshot::channel();
    let (open, open_rx) = oneshot::channel();
    *store.rotation_gate.lock().unwrap() = Some((started_tx, open_rx));
    let s = Arc::new(s);
    let (s2, pc2, rt2) = (s.clone(), pc.clone(), rt.clone());
    let refresh = tokio::spawn(async move { s2.refresh("default", &pc2, &rt2, None).await });
    started.await.unwrap();
    // Past the request's deadline (no assertion on time: the outcome must not
    // depend on how long this is).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let _ = open.send(());
    let r = refresh.await.unwrap();
    assert_eq!(r.status(), 200, "the rotation committed, so the answer must say so");
    let body: Value = r.json().await.unwrap();
    assert_eq!(s.refresh("default", &pc, body["refresh_token"].as_str().unwrap(), None).await.status(), 200);
    assert_error(s.refresh("default", &pc, &rt, None).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_panicking_handler_answers_500_json_and_the_server_keeps_serving() {
    let (s, store) = switchable_server().await;
    let c = s.cc_client("default", "x", "a").await;
    store.panic.store(true, Ordering::SeqCst);
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &[("grant_type", "client_credentials")]).await;
    let body = assert_error(r, 500, "server_error").await;
    assert!(!body.to_string().contains("injected"), "the cause is never shown: {body}");
    let t = s.token("default", &c, None).await;
    assert!(s.is_active("default", &c, &t).await);
}
