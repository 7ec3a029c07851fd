//! Storage failures seen on the wire (SECURITY-CASES R5): a store that is down makes
//! every endpoint answer 503 `temporarily_unavailable` with `Retry-After`; never
//! `active: false`, never a silent 200 from revocation, never a panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use portcullis_core::model::{Client, Realm, SigningKeyRecord, StoredToken, TokenRecord};
use portcullis_core::store::{Store, StoreError, StoreResult};

use crate::harness::{TestServer, assert_error};

/// Delegates to a real store until switched off.
pub struct SwitchableStore {
    inner: Arc<dyn Store>,
    pub down: AtomicBool,
}

impl SwitchableStore {
    fn check(&self) -> StoreResult<()> {
        if self.down.load(Ordering::SeqCst) { Err(StoreError::Unavailable("injected outage".into())) } else { Ok(()) }
    }
}

#[async_trait]
impl Store for SwitchableStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.check()?;
        self.inner.ping().await
    }
    async fn pepper(&self, c: &[u8]) -> StoreResult<Vec<u8>> {
        self.check()?;
        self.inner.pepper(c).await
    }
    async fn create_realm(&self, r: &Realm, k: &SigningKeyRecord) -> StoreResult<()> {
        self.check()?;
        self.inner.create_realm(r, k).await
    }
    async fn get_realm(&self, n: &str) -> StoreResult<Option<Realm>> {
        self.check()?;
        self.inner.get_realm(n).await
    }
    async fn list_realms(&self) -> StoreResult<Vec<Realm>> {
        self.check()?;
        self.inner.list_realms().await
    }
    async fn update_realm(&self, r: &Realm) -> StoreResult<()> {
        self.check()?;
        self.inner.update_realm(r).await
    }
    async fn delete_realm(&self, n: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.delete_realm(n).await
    }
    async fn signing_keys(&self, r: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>> {
        self.check()?;
        self.inner.signing_keys(r, now).await
    }
    async fn rotate_signing_key(&self, k: &SigningKeyRecord, now: i64, until: i64) -> StoreResult<()> {
        self.check()?;
        self.inner.rotate_signing_key(k, now, until).await
    }
    async fn create_client(&self, c: &Client) -> StoreResult<()> {
        self.check()?;
        self.inner.create_client(c).await
    }
    async fn get_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>> {
        self.check()?;
        self.inner.get_client(r, id).await
    }
    async fn find_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>> {
        self.check()?;
        self.inner.find_client(r, id).await
    }
    async fn list_clients(&self, r: &str) -> StoreResult<Vec<Client>> {
        self.check()?;
        self.inner.list_clients(r).await
    }
    async fn update_client(&self, c: &Client) -> StoreResult<()> {
        self.check()?;
        self.inner.update_client(c).await
    }
    async fn delete_client(&self, r: &str, id: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.delete_client(r, id).await
    }
    async fn rotate_client_secret(&self, r: &str, id: &str, h: &[u8], at: Option<i64>) -> StoreResult<()> {
        self.check()?;
        self.inner.rotate_client_secret(r, id, h, at).await
    }
    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.check()?;
        self.inner.insert_token(t).await
    }
    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
        self.check()?;
        self.inner.get_token(id).await
    }
    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
        self.check()?;
        self.inner.revoke_token(id, now).await
    }
}

#[tokio::test]
async fn an_unreachable_database_is_503_everywhere_and_recovers() {
    let switch = Arc::new(std::sync::Mutex::new(None::<Arc<SwitchableStore>>));
    let s = TestServer::start_wrapped(|inner| {
        let wrapped = Arc::new(SwitchableStore { inner, down: AtomicBool::new(false) });
        *switch.lock().unwrap() = Some(wrapped.clone());
        wrapped
    })
    .await;
    let store = switch.lock().unwrap().clone().unwrap();
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
