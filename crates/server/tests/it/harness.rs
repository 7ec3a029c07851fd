//! A real server on a loopback port, over a fresh SQLite database, with a clock the
//! test moves by hand.

use std::sync::Arc;

use portcullis_core::admin::{Admin, ClientSpec, RealmSettings};
use portcullis_core::authority::Authority;
use portcullis_core::clock::{Clock, ManualClock, SystemClock};
use portcullis_core::model::{GrantType, SigningAlg, TokenFormat};
use portcullis_core::store::Store;
use portcullis_server::metrics::{Metrics, serve_metrics};
use portcullis_server::{AppState, HttpSettings};
use reqwest::Response;
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub authority: Arc<Authority>,
    /// The database URL, for further instances on the same database.
    pub database_url: String,
    /// With `start_with_metrics`: the registry and the base URL of its own listener.
    pub metrics: Option<(Arc<Metrics>, String)>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_wrapped(|s| s).await
    }

    /// A server whose store is `wrap` applied to a fresh SQLite store.
    pub async fn start_wrapped(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> Self {
        Self::start_configured(wrap, |a| a).await
    }

    /// A server on a fresh SQLite store wrapped by `wrap`, its authority set up by
    /// `configure`.
    pub async fn start_configured(
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(Authority) -> Authority,
    ) -> Self {
        Self::start_full(wrap, configure, HttpSettings::default()).await
    }

    /// A server on a fresh SQLite store with its authority set up by `configure` and
    /// these HTTP settings (the header read timeout is the harness's own).
    pub async fn start_with_http(configure: impl FnOnce(Authority) -> Authority, http: HttpSettings) -> Self {
        Self::start_full(|st| st, configure, http).await
    }

    async fn start_full(
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(Authority) -> Authority,
        http: HttpSettings,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let http = HttpSettings { header_read_timeout: std::time::Duration::from_secs(2), ..http };
        let mut s = Self::instance_with(&url, clock, wrap, configure, http).await;
        s._dir = Some(dir);
        s
    }

    /// Another server instance (own pool, own caches, own port) on the same database
    /// and clock, as behind a load balancer.
    pub async fn another_instance(&self) -> Self {
        Self::instance(&self.database_url, self.clock.clone(), |s| s).await
    }

    /// A server on an existing database (e.g. a fresh PostgreSQL one).
    pub async fn instance(
        url: &str,
        clock: Arc<ManualClock>,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Self {
        Self::instance_configured(url, clock, wrap, |a| a).await
    }

    /// A server on an existing database with its own HTTP settings.
    pub async fn instance_with_settings(
        url: &str,
        clock: Arc<ManualClock>,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        settings: HttpSettings,
    ) -> Self {
        Self::instance_with(url, clock, wrap, |a| a, settings).await
    }

    /// A server on a fresh SQLite store that exports metrics on a second loopback
    /// port, gathering table sizes every 100 ms.
    pub async fn start_with_metrics() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let http = HttpSettings { header_read_timeout: std::time::Duration::from_secs(2), ..Default::default() };
        let mut s = Self::instance_of(&url, |st| st, Peer { metrics: true, ..Peer::default() }, |a| a, http).await;
        s._dir = Some(dir);
        s
    }

    async fn instance_configured(
        url: &str,
        clock: Arc<ManualClock>,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(Authority) -> Authority,
    ) -> Self {
        let settings = HttpSettings { header_read_timeout: std::time::Duration::from_secs(2), ..Default::default() };
        Self::instance_with(url, clock, wrap, configure, settings).await
    }

    async fn instance_with(
        url: &str,
        clock: Arc<ManualClock>,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(Authority) -> Authority,
        settings: HttpSettings,
    ) -> Self {
        Self::instance_of(url, wrap, Peer { clock, ..Peer::default() }, configure, settings).await
    }

    /// Another instance on the same database as `self`, set up as `peer` says.
    pub async fn peer(&self, peer: Peer) -> Self {
        let settings = HttpSettings { header_read_timeout: std::time::Duration::from_secs(2), ..Default::default() };
        Self::instance_of(&self.database_url, |s| s, peer, |a| a, settings).await
    }

    /// A server on an existing database, set up as `peer` says.
    pub async fn on_database(url: &str, peer: Peer) -> Self {
        let settings = HttpSettings { header_read_timeout: std::time::Duration::from_secs(2), ..Default::default() };
        Self::instance_of(url, |s| s, peer, |a| a, settings).await
    }

    /// Another instance behind this one's public URL (one issuer, as behind a load
    /// balancer), on the same database and clock.
    pub async fn behind_one_url(&self) -> Self {
        self.peer(Peer { public_url: Some(self.base.clone()), ..Peer::sharing_clock(self) }).await
    }

    async fn instance_of(
        url: &str,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        peer: Peer,
        configure: impl FnOnce(Authority) -> Authority,
        settings: HttpSettings,
    ) -> Self {
        crate::logs::install();
        let Peer { clock, public_url, store_options, key_cache_ttl, metrics: with_metrics } = peer;
        let store = wrap(portcullis_store::connect(url, &store_options).await.unwrap());
        Admin::new(store.as_ref(), clock.as_ref()).ensure_default_realm().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let public = public_url.unwrap_or_else(|| base.clone());
        let clock_dyn: Arc<dyn Clock> = clock.clone();
        let mut authority = configure(Authority::new(store.clone(), clock_dyn, &public).await.unwrap());
        if let Some(ttl) = key_cache_ttl {
            authority = authority.with_key_cache_ttl(ttl);
        }
        let registry = with_metrics.then(|| Arc::new(Metrics::new()));
        let mut metrics = None;
        if let Some(registry) = &registry {
            authority = authority.with_metrics(registry.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            metrics = Some((registry.clone(), format!("http://{}", listener.local_addr().unwrap())));
            let every = std::time::Duration::from_millis(100);
            let timeout = settings.header_read_timeout;
            let serving =
                serve_metrics(listener, registry.clone(), store.clone(), every, timeout, std::future::pending());
            tokio::spawn(serving);
        }
        let authority = Arc::new(authority);
        let state = AppState { authority: authority.clone(), settings: Arc::new(settings), metrics: registry };
        tokio::spawn(portcullis_server::serve(listener, state, std::future::pending()));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base, http, clock, store, authority, database_url: url.to_owned(), metrics, _dir: None }
    }

    /// The issuer prefix this instance signs and checks tokens under (its own address
    /// unless it was started behind another's URL).
    pub fn public_url(&self) -> &str {
        self.authority.public_url()
    }

    /// Rows per table of this server's database (see `testing::row_counts`).
    pub async fn row_counts(&self) -> std::collections::BTreeMap<String, i64> {
        portcullis_store::testing::row_counts(&self.database_url).await
    }

    /// Keeps `dir` (the database's directory) as long as the server.
    pub fn keep_dir(&mut self, dir: tempfile::TempDir) {
        self._dir = Some(dir);
    }

    pub fn admin(&self) -> Admin<'_> {
        Admin::new(self.store.as_ref(), self.clock.as_ref())
    }

    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base)
    }

    pub fn url(&self, realm: &str, path: &str) -> String {
        format!("{}{path}", self.issuer(realm))
    }

    pub async fn realm(&self, name: &str, format: TokenFormat, alg: SigningAlg) {
        let settings = RealmSettings { token_format: Some(format), signing_alg: Some(alg), ..Default::default() };
        self.admin().create_realm(name, &settings).await.unwrap();
    }

    pub async fn client_with(&self, realm: &str, spec: ClientSpec) -> TestClient {
        let (c, s) = self.admin().create_client(realm, &spec).await.unwrap();
        TestClient { id: c.client_id, secret: s.map(|s| s.expose().to_owned()).unwrap_or_default() }
    }

    /// A confidential client_credentials client allowed `scopes`.
    pub async fn cc_client(&self, realm: &str, name: &str, scopes: &str) -> TestClient {
        self.client_with(
            realm,
            ClientSpec {
                name: Some(name.into()),
                grant_types: Some(vec![GrantType::ClientCredentials]),
                scopes: Some(scopes.split(' ').filter(|s| !s.is_empty()).map(String::from).collect()),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn post_form(&self, url: &str, basic: Option<&TestClient>, form: &[(&str, &str)]) -> Response {
        let mut req = self.http.post(url).form(form);
        if let Some(c) = basic {
            req = req.basic_auth(&c.id, Some(&c.secret));
        }
        req.send().await.unwrap()
    }

    /// A client_credentials token; panics unless the server issues one.
    pub async fn token(&self, realm: &str, client: &TestClient, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self.post_form(&self.url(realm, "/oauth/token"), Some(client), &form).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn introspect(&self, realm: &str, as_client: &TestClient, token: &str) -> Value {
        let r = self.post_form(&self.url(realm, "/oauth/introspect"), Some(as_client), &[("token", token)]).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn is_active(&self, realm: &str, as_client: &TestClient, token: &str) -> bool {
        self.introspect(realm, as_client, token).await["active"].as_bool().unwrap()
    }
}

/// How a further instance differs from a plain one.
pub struct Peer {
    pub clock: Arc<ManualClock>,
    /// The public URL it issues under; `None`: its own address.
    pub public_url: Option<String>,
    pub store_options: portcullis_store::StoreOptions,
    /// `Authority::with_key_cache_ttl`; `None`: the default.
    pub key_cache_ttl: Option<std::time::Duration>,
    /// Export metrics on a listener of its own (`TestServer::metrics`).
    pub metrics: bool,
}

impl Default for Peer {
    fn default() -> Self {
        Self {
            clock: Arc::new(ManualClock::new(SystemClock.now())),
            public_url: None,
            store_options: portcullis_store::StoreOptions { max_connections: 8, ..Default::default() },
            key_cache_ttl: None,
            metrics: false,
        }
    }
}

impl Peer {
    pub fn sharing_clock(s: &TestServer) -> Self {
        Self { clock: s.clock.clone(), ..Self::default() }
    }
}

/// The checks every error response must pass: the RFC status and code, JSON, no
/// caching, and an `error_description` of allowed characters only (RFC 6749 §5.2).
pub async fn assert_error(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status(), status, "status");
    let h = r.headers().clone();
    assert_eq!(h.get("content-type").unwrap(), "application/json");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_eq!(h.get("pragma").unwrap(), "no-cache");
    if status == 401 {
        assert!(h.get("www-authenticate").is_some(), "401 without WWW-Authenticate");
    }
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(
        d.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
        "bad characters in error_description: {d}"
    );
    body
}

/// Runs `case` against a server on a fresh PostgreSQL database, which is dropped
/// afterwards even if the case panics. Without PostgreSQL it fails, unless
/// `PORTCULLIS_TEST_SKIP_POSTGRES=1` (then skipped with a note).
pub async fn on_postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(TestServer) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    in_fresh_postgres(name, |url| async move {
        case(TestServer::instance(&url, Arc::new(ManualClock::new(SystemClock.now())), |s| s).await).await
    })
    .await
}

/// [`on_postgres`] with a server set up as `peer` says (e.g. with metrics).
pub async fn on_postgres_with<F, Fut>(name: &str, peer: Peer, case: F)
where
    F: FnOnce(TestServer) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    in_fresh_postgres(name, |url| async move { case(TestServer::on_database(&url, peer).await).await }).await
}

/// Runs `work` on the URL of a fresh PostgreSQL database, dropped afterwards even if
/// `work` panics.
async fn in_fresh_postgres<F, Fut>(name: &str, work: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = portcullis_store::testing::TestDatabase::create(name).await else { return };
    let outcome = tokio::spawn(work(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
