//! Storage failures seen on the wire (SECURITY-CASES R5): a store that is down makes
//! every endpoint answer 503 `temporarily_unavailable` with `Retry-After`; never
//! `active: false`, never a silent 200 from revocation, never a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use portcullis_core::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord, StoredToken,
    TokenRecord, User,
};
use portcullis_core::store::{
    CodeRedemption, PendingLimits, PurgeCutoffs, PurgeReport, Rotation, Store, StoreError, StoreResult,
};

use crate::harness::{TestServer, assert_error};

/// Delegates to a real store until switched off.
pub struct SwitchableStore {
    inner: Arc<dyn Store>,
    pub down: AtomicBool,
    /// Makes the next store call panic, as a bug in a handler would.
    pub panic: AtomicBool,
}

impl SwitchableStore {
    fn check(&self) -> StoreResult<()> {
        if self.panic.swap(false, Ordering::SeqCst) {
            panic!("injected panic");
        }
        if self.down.load(Ordering::SeqCst) { Err(StoreError::Unavailable("injected outage".into())) } else { Ok(()) }
    }
}

/// Writes the `Store` impl: every method checks the switch, then delegates.
macro_rules! switchable {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        #[async_trait]
        impl Store for SwitchableStore {
            fn backend(&self) -> &'static str {
                self.inner.backend()
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.check()?;
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

switchable! {
    fn ping(&self) -> StoreResult<()>;
    fn pepper(&self, c: &[u8]) -> StoreResult<Vec<u8>>;
    fn create_realm(&self, r: &Realm, k: &SigningKeyRecord) -> StoreResult<()>;
    fn get_realm(&self, n: &str) -> StoreResult<Option<Realm>>;
    fn list_realms(&self) -> StoreResult<Vec<Realm>>;
    fn update_realm(&self, r: &Realm) -> StoreResult<()>;
    fn delete_realm(&self, n: &str) -> StoreResult<()>;
    fn signing_keys(&self, r: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>>;
    fn rotate_signing_key(&self, k: &SigningKeyRecord, now: i64, until: i64) -> StoreResult<()>;
    fn create_client(&self, c: &Client) -> StoreResult<()>;
    fn get_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
    fn find_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
    fn list_clients(&self, r: &str) -> StoreResult<Vec<Client>>;
    fn update_client(&self, c: &Client) -> StoreResult<()>;
    fn delete_client(&self, r: &str, id: &str) -> StoreResult<()>;
    fn rotate_client_secret(&self, r: &str, id: &str, h: &[u8], at: Option<i64>) -> StoreResult<()>;
    fn insert_token(&self, t: &TokenRecord) -> StoreResult<()>;
    fn insert_token_if_client_at(&self, t: &TokenRecord, revision: i64) -> StoreResult<bool>;
    fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>>;
    fn get_token_and_client_revision(&self, id: &[u8; 16], realm: &str, client_id: &str) -> StoreResult<(Option<StoredToken>, Option<i64>)>;
    fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    fn create_user(&self, u: &User) -> StoreResult<()>;
    fn get_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
    fn find_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
    fn list_users(&self, r: &str) -> StoreResult<Vec<User>>;
    fn update_user(&self, u: &User) -> StoreResult<()>;
    fn set_user_password(&self, r: &str, id: &str, h: &str, now: i64) -> StoreResult<()>;
    fn delete_user(&self, r: &str, id: &str) -> StoreResult<()>;
    fn count_login_attempt(&self, k: &str, now: i64, w: i64) -> StoreResult<u32>;
    fn clear_login_attempts(&self, k: &str) -> StoreResult<()>;
    fn create_session(&self, s: &BrowserSession) -> StoreResult<()>;
    fn get_session(&self, h: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>>;
    fn delete_session(&self, h: &[u8; 32]) -> StoreResult<()>;
    fn create_authorization_request(&self, r: &AuthorizationRequest) -> StoreResult<()>;
    fn get_authorization_request(&self, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>>;
    fn create_capped_authorization_request(&self, s: Option<&BrowserSession>, r: &AuthorizationRequest, now: i64, l: PendingLimits) -> StoreResult<bool>;
    fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool>;
    fn get_consent(&self, r: &str, u: &str, c: &str) -> StoreResult<Option<String>>;
    fn save_consent(&self, r: &str, u: &str, c: &str, sc: &str, now: i64) -> StoreResult<()>;
    fn create_grant(&self, g: &Grant, t: &[TokenRecord]) -> StoreResult<()>;
    fn create_grant_with_code(&self, g: &Grant, c: &AuthorizationCode, r: &[u8; 16]) -> StoreResult<()>;
    fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>>;
    fn redeem_code(&self, id: &[u8; 16], now: i64, t: &[TokenRecord]) -> StoreResult<CodeRedemption>;
    fn insert_tokens(&self, t: &[TokenRecord]) -> StoreResult<()>;
    fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>>;
    fn list_grants(&self, r: &str, u: Option<&str>, c: Option<&str>) -> StoreResult<Vec<Grant>>;
    fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    fn rotate_refresh_token(&self, old: &[u8; 16], now: i64, g: Option<i64>, t: &[TokenRecord]) -> StoreResult<Rotation>;
    fn purge_expired(&self, c: PurgeCutoffs, batch: u32) -> StoreResult<PurgeReport>;
}

/// A server whose store can be switched off or made to panic.
async fn switchable_server() -> (TestServer, Arc<SwitchableStore>) {
    let switch = Arc::new(std::sync::Mutex::new(None::<Arc<SwitchableStore>>));
    let s = TestServer::start_wrapped(|inner| {
        let wrapped = Arc::new(SwitchableStore { inner, down: AtomicBool::new(false), panic: AtomicBool::new(false) });
        *switch.lock().unwrap() = Some(wrapped.clone());
        wrapped
    })
    .await;
    let store = switch.lock().unwrap().clone().unwrap();
    (s, store)
}

#[tokio::test]
async fn an_unreachable_database_is_503_everywhere_and_recovers() {
    let (s, store) = switchable_server().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;

    store.down.store(true, Ordering::SeqCst);
    let posts = [
        ("/oauth/token", vec![("grant_type", "client_credentials")]),
        ("/oauth/introspect", vec![("token", t.as_str())]),
        ("/oauth/revoke", vec![("token", t.as_str())]),
        ("/oauth/check_token", vec![("token", t.as_str())]),
    ];
    for (path, form) in &posts {
        let r = s.post_form(&s.url("default", path), Some(&c), form).await;
        assert!(r.headers().get("retry-after").is_some(), "{path}");
        assert_error(r, 503, "temporarily_unavailable").await;
    }
    let r = s.http.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    store.down.store(false, Ordering::SeqCst);
    assert!(s.is_active("default", &c, &t).await, "the revocation during the outage must not have happened");
    let r = s.http.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
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
