//! The authorization server's state and shared steps: realm lookup, keys, minting.
//! Endpoints (in [`crate::endpoint`]) and grants (in [`crate::grant`]) are built on it.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::api_key_usage::ApiKeyUsage;
use crate::audit::{AuditKind, AuditLog, AuditRecord};
use crate::client_auth::{self, PresentedClient};
use crate::client_cache::ClientCache;
use crate::client_throttle::ClientThrottle;
use crate::clock::Clock;
use crate::error::{OAuthError, store_failure};
use crate::metrics::{Metrics, NoMetrics, SignInFailureReason};
use crate::model::{
    Client, Grant, GrantType, Realm, SigningKeyRecord, TokenFormat, TokenKind, TokenRecord, User, UserKind,
};
use crate::org::{ApiKey, StoredApiKey};
use crate::password::PasswordChecker;
use crate::rate_limit::{RateLimiter, retry_after_secs};
use crate::secret::SecretHasher;
use crate::store::{PendingLimits, Store, StoreError};
use crate::throttle::{self, SignInContext, SignInFailure};
use crate::token::jwt::{self, AccessTokenClaims};
use crate::token::keys::KeyRing;
use crate::token::{api_key, opaque, token_id_hex};
use portcullis_proto::TokenResponse;

/// How long a realm's loaded keys are trusted for signing before they are read again:
/// the bound on how long another instance keeps signing with the key a rotation
/// retired. Harmless within it: a retired key keeps verifying (and stays in every
/// JWKS) until `verify_until`, which `admin::rotate_keys` pushes out by this much, so
/// a token signed with it that late still verifies for its whole life. Verification
/// and the JWKS never wait for it: an unknown `kid` reloads the ring, and the JWKS is
/// read from the database.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// How long a realm's settings are trusted before they are read again: the bound on
/// how late a `realm update` made elsewhere shows here. Nothing revocable lives in
/// them (tokens, clients and keys are checked in the database or their own cache).
pub const REALM_CACHE_TTL: Duration = Duration::from_secs(1);

/// Pending authorization requests a browser session keeps: a new one deletes the
/// session's oldest beyond this, so a user with many tabs open is never refused, and a
/// script reusing one cookie stores no more than this.
pub const DEFAULT_PENDING_PER_SESSION: u32 = 32;
/// Live pending authorization requests one client address may have; past it the
/// authorization endpoint answers 429 and stores nothing. A script without cookies gets
/// a new session each time, so this is what bounds it. High, because many people may
/// share a NAT.
pub const DEFAULT_PENDING_PER_ADDRESS: u32 = 1000;

pub struct Authority {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hasher: SecretHasher,
    pub passwords: PasswordChecker,
    public_url: String,
    keys: RwLock<HashMap<String, (Arc<KeyRing>, Instant)>>,
    key_cache_ttl: Duration,
    realms: RwLock<HashMap<String, (Realm, Instant)>>,
    /// Failed sign-ins allowed from one address per window; 0: no per-address limit.
    sign_in_failures_per_address: u32,
    pending_limits: PendingLimits,
    clients: ClientCache,
    client_throttle: ClientThrottle,
    /// Requests per authenticated client (per instance); `None`: no limit.
    client_rate: Option<RateLimiter>,
    /// Last uses of API keys, written in batches (`api_key_usage::run`).
    pub api_key_usage: Arc<ApiKeyUsage>,
    /// Where protocol events are counted (`NoMetrics` unless the server exports them).
    pub metrics: Arc<dyn Metrics>,
    /// The audit log's sink, written in batches by its own task (`audit::log`).
    pub audit: Arc<AuditLog>,
    /// Whether each client_credentials token is audited as `token.issued` (default
    /// yes); see [`Authority::with_audit_client_credentials`].
    pub audit_client_credentials: bool,
}

/// What a new access token carries besides its realm and client.
#[derive(Debug, Clone, Default)]
pub struct TokenClaims {
    pub subject: String,
    pub username: Option<String>,
    pub scope: String,
    pub grant_id: Option<[u8; 16]>,
    pub permissions: Vec<String>,
    pub test: bool,
    pub authorities: Option<Vec<String>>,
    pub teams: Vec<String>,
}

/// A client that passed authentication, and whether it is a cached copy (which may
/// be older than the database: see `client_cache`).
pub struct Authenticated {
    pub client: Arc<Client>,
    pub cached: bool,
}

/// What an issuing step made of a request it did not refuse: a token, or word that
/// the client changed under it.
///
/// A token minted for a copy of the client (cached: see `client_cache`) is stored only
/// while the client is still at that copy's `revision`. `ClientChanged` says it was
/// not, and nothing was stored: the token endpoint then decides the request again, once,
/// on the client read afresh. Only a change during that retry reaches the client, as
/// [`OAuthError::client_changed`] ([`Issued::into_result`]).
#[must_use]
pub enum Issued<T> {
    Token(T),
    ClientChanged,
}

impl<T> Issued<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Issued<U> {
        match self {
            Issued::Token(t) => Issued::Token(f(t)),
            Issued::ClientChanged => Issued::ClientChanged,
        }
    }

    /// The answer to the client, once no retry is left.
    pub fn into_result(self) -> Result<T, OAuthError> {
        match self {
            Issued::Token(t) => Ok(t),
            Issued::ClientChanged => Err(OAuthError::client_changed()),
        }
    }
}

/// A token minted and stored: the string for the client, once.
pub struct IssuedToken {
    /// The token's id (its row's key; not secret).
    pub id: [u8; 16],
    pub token: String,
    pub expires_in: i64,
}

/// A token minted but not yet stored: the caller stores `record` (alone or with
/// others, in one transaction) before handing out `token`.
pub struct MintedToken {
    pub token: String,
    pub record: TokenRecord,
}

impl MintedToken {
    pub fn expires_in(&self) -> i64 {
        self.record.expires_at.map_or(0, |e| e - self.record.issued_at)
    }
}

/// The access token and, when the client may refresh, the refresh token issued for
/// one grant.
pub struct GrantTokens {
    pub access: MintedToken,
    pub refresh: Option<MintedToken>,
}

impl GrantTokens {
    pub fn records(&self) -> Vec<TokenRecord> {
        std::iter::once(self.access.record.clone()).chain(self.refresh.as_ref().map(|r| r.record.clone())).collect()
    }

    /// The RFC 6749 §5.1 response; `refresh_token` overrides the minted one (the
    /// `reuse` policy hands back the presented token).
    pub fn response(&self, authorities: Option<Vec<String>>, refresh_token: Option<String>) -> TokenResponse {
        TokenResponse {
            access_token: self.access.token.clone(),
            token_type: "Bearer".to_owned(),
            expires_in: Some(self.access.expires_in().max(0) as u64),
            refresh_token: refresh_token.or_else(|| self.refresh.as_ref().map(|r| r.token.clone())),
            scope: Some(self.access.record.scope.clone()),
            authorities,
        }
    }
}

impl Authority {
    /// `public_url` without a trailing slash; the issuer of realm R is
    /// `{public_url}/realms/R`.
    pub async fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, public_url: &str) -> Result<Self, StoreError> {
        let pepper = store.pepper(&crate::secret::random_bytes::<32>()).await?;
        Ok(Self {
            clock,
            hasher: SecretHasher::new(&pepper),
            // One argon2 at a time per core keeps sign-ins from crowding out the rest.
            passwords: PasswordChecker::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
            public_url: public_url.trim_end_matches('/').to_owned(),
            keys: RwLock::new(HashMap::new()),
            key_cache_ttl: KEY_CACHE_TTL,
            realms: RwLock::new(HashMap::new()),
            sign_in_failures_per_address: throttle::PER_ADDRESS,
            pending_limits: PendingLimits {
                per_session: DEFAULT_PENDING_PER_SESSION,
                per_address: DEFAULT_PENDING_PER_ADDRESS,
            },
            clients: ClientCache::default(),
            client_throttle: ClientThrottle::default(),
            client_rate: None,
            api_key_usage: Arc::new(ApiKeyUsage::default()),
            metrics: Arc::new(NoMetrics),
            audit: Arc::new(AuditLog::start(store.clone())),
            audit_client_credentials: true,
            store,
        })
    }

    /// Trust loaded keys for signing this long (at most [`KEY_CACHE_TTL`], whose
    /// margin `verify_until` carries), e.g. so tests see a rotation made elsewhere soon.
    pub fn with_key_cache_ttl(mut self, ttl: Duration) -> Self {
        self.key_cache_ttl = ttl.min(KEY_CACHE_TTL);
        self
    }

    /// Counts protocol events into `metrics` (the server's `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Failed sign-ins allowed from one address per window, over all accounts (default
    /// `throttle::PER_ADDRESS`); 0 turns the per-address budget off. The per-pair and
    /// per-account rules stay.
    pub fn with_sign_in_failures_per_address(mut self, limit: u32) -> Self {
        self.sign_in_failures_per_address = limit;
        self
    }

    /// Whether client_credentials issuance is audited (`token.issued`, on by default).
    /// Off, a machine client's failures are still audited, only its successes are not:
    /// at full rate they cost about a fifth of SQLite's client_credentials throughput
    /// (README, "Audit log").
    pub fn with_audit_client_credentials(mut self, on: bool) -> Self {
        self.audit_client_credentials = on;
        self
    }

    /// Failed client authentications allowed from one address per window, over all
    /// clients of a realm (default `client_throttle::PER_ADDRESS`); 0 turns that budget
    /// off. The per-pair rule stays.
    pub fn with_client_auth_failures_per_address(mut self, limit: u32) -> Self {
        self.client_throttle = ClientThrottle::new(limit);
        self
    }

    /// Requests each authenticated client may make at the token, introspection and
    /// revocation endpoints, per instance; `None` (the default): no limit.
    pub fn with_client_rate_limit(mut self, limiter: Option<RateLimiter>) -> Self {
        self.client_rate = limiter;
        self
    }

    /// Runs a request's client authentication (`authenticate`) under client-secret
    /// throttling (`client_throttle`), then takes one request from the client's rate
    /// limit. `addr` is the client's address, when known.
    ///
    /// Not an `async fn`: `authenticate` is boxed before the returned future exists.
    /// Inline, it is held across the throttle's awaits and passed down on two paths,
    /// which made the token, introspection and revocation futures 11–17 KB; boxed,
    /// 2.5–3 KB (`-Zprint-type-sizes`), which is what every in-flight request's task
    /// holds. (No CPU change was measured: bench/README.md.)
    pub fn guard_client<'a, T: Send + 'a>(
        &'a self,
        realm: &'a str,
        presented: &'a PresentedClient,
        addr: Option<IpAddr>,
        authenticate: impl Future<Output = Result<T, OAuthError>> + Send + 'a,
    ) -> impl Future<Output = Result<T, OAuthError>> + Send + 'a {
        let authenticate = Box::pin(authenticate);
        async move {
            let store = self.store.as_ref();
            let authenticated =
                self.client_throttle.run(store, self.clock.as_ref(), realm, presented, addr, authenticate).await?;
            if let (Some(limiter), Some(client_id)) = (&self.client_rate, presented.client_id()) {
                limiter.check((realm, client_id)).map_err(|wait| {
                    OAuthError::too_many_requests(
                        format!("this client is over its limit of {} requests; retry later", limiter.rate()),
                        retry_after_secs(wait),
                    )
                })?;
            }
            Ok(authenticated)
        }
    }

    /// Caps on pending authorization requests (defaults [`DEFAULT_PENDING_PER_SESSION`]
    /// and [`DEFAULT_PENDING_PER_ADDRESS`]).
    pub fn with_pending_limits(mut self, limits: PendingLimits) -> Self {
        self.pending_limits = limits;
        self
    }

    pub fn pending_limits(&self) -> PendingLimits {
        self.pending_limits
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{}", self.public_url, realm)
    }

    /// The audience of the realm's access tokens: its issuer, until resource
    /// indicators (RFC 8707) let clients name another.
    pub fn audience(&self, realm: &str) -> String {
        self.issuer(realm)
    }

    /// The realm named in the path; 404 for a name that is invalid or unknown,
    /// never a fallback to another realm.
    pub async fn realm(&self, name: &str) -> Result<Realm, OAuthError> {
        let not_found = || OAuthError::not_found(format!("realm '{name}' does not exist"));
        if Realm::validate_name(name).is_err() {
            return Err(not_found());
        }
        if let Some((realm, loaded)) = self.realms.read().unwrap_or_else(|p| p.into_inner()).get(name)
            && loaded.elapsed() < REALM_CACHE_TTL
        {
            return Ok(realm.clone());
        }
        let realm = self.store.get_realm(name).await.map_err(store_failure)?.ok_or_else(not_found)?;
        self.realms.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), (realm.clone(), Instant::now()));
        Ok(realm)
    }

    /// The realm's keys, from cache while fresh. `wanted_kid` forces a reload when the
    /// cached ring does not know it, so a token signed with a key made on another
    /// instance verifies here at once. Not rate limited: a reload is one indexed read,
    /// no dearer than the token row every introspection reads, and only authenticated
    /// clients reach it.
    pub async fn key_ring(&self, realm: &str, wanted_kid: Option<&str>) -> Result<Arc<KeyRing>, OAuthError> {
        if let Some((ring, loaded)) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(realm) {
            let fresh = loaded.elapsed() < self.key_cache_ttl;
            if fresh && wanted_kid.is_none_or(|k| ring.contains_kid(k)) {
                return Ok(ring.clone());
            }
        }
        self.load_key_ring(realm).await
    }

    /// The realm's keys as the database lists them now, whatever the cache's age (the
    /// JWK set publishes a key rotated at another instance at once). The cached ring
    /// is reused when the database lists the same keys in the same states, since a
    /// key's material never changes under its kid: parsing the keys was most of an
    /// anonymous JWKS request's cost (bench/README.md, "The JWK set").
    pub async fn current_key_ring(&self, realm: &str) -> Result<Arc<KeyRing>, OAuthError> {
        let records = self.store.signing_keys(realm, self.now()).await.map_err(store_failure)?;
        if let Some((ring, _)) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(realm)
            && ring.is_listed_by(&records)
        {
            return Ok(ring.clone());
        }
        self.cache_key_ring(realm, &records)
    }

    async fn load_key_ring(&self, realm: &str) -> Result<Arc<KeyRing>, OAuthError> {
        let records = self.store.signing_keys(realm, self.now()).await.map_err(store_failure)?;
        self.cache_key_ring(realm, &records)
    }

    fn cache_key_ring(&self, realm: &str, records: &[SigningKeyRecord]) -> Result<Arc<KeyRing>, OAuthError> {
        let ring = Arc::new(KeyRing::load(records).map_err(OAuthError::server_error)?);
        self.keys.write().unwrap_or_else(|p| p.into_inner()).insert(realm.to_owned(), (ring.clone(), Instant::now()));
        Ok(ring)
    }

    /// Signs a user in by username and password under the sign-in throttle
    /// ([`throttle::sign_in`]) for client `client_id`; `addr` is the client's address,
    /// when known. The outcome is audited.
    pub async fn sign_in(
        &self,
        realm: &str,
        client_id: &str,
        username: &str,
        password: &str,
        addr: Option<IpAddr>,
        kind: UserKind,
    ) -> Result<User, SignInFailure> {
        let ctx = SignInContext {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            passwords: &self.passwords,
            failures_per_address: self.sign_in_failures_per_address,
        };
        let outcome = throttle::sign_in(&ctx, realm, username, password, addr, kind).await;
        let reason = match &outcome {
            Err(SignInFailure::Throttled) => Some(SignInFailureReason::Throttled),
            Err(SignInFailure::BadCredentials | SignInFailure::UsernameTooLong) => {
                Some(SignInFailureReason::BadCredentials)
            }
            Ok(_) | Err(SignInFailure::Unavailable(_)) => None,
        };
        if let Some(reason) = reason {
            self.metrics.sign_in_failed(realm, reason);
        }
        let event = |kind| self.audit_event(kind, realm).client(client_id).action(sign_in_channel());
        match &outcome {
            Ok(user) => self.audit(event(AuditKind::SignInSucceeded).actor(&user.username).subject(&user.id)).await,
            Err(SignInFailure::Unavailable(_)) => {}
            Err(failure) => {
                let kind = match failure {
                    SignInFailure::Throttled => AuditKind::SignInLocked,
                    _ => AuditKind::SignInFailed,
                };
                // The attempted username only when an account has it: people type
                // their password into the username field.
                let account = match failure {
                    SignInFailure::UsernameTooLong => None,
                    _ => self.store.find_user(realm, username).await.ok().flatten(),
                };
                let account = account.filter(|u| u.username.eq_ignore_ascii_case(username));
                let mut e = event(kind);
                if let Some(u) = account {
                    e = e.actor(u.username).subject(u.id);
                }
                self.audit(e).await;
            }
        }
        outcome
    }

    /// Audits the issuing of `token` (an access token) by `grant_type`.
    pub async fn audit_issued(&self, grant_type: GrantType, token: &TokenRecord) {
        let e = self
            .audit_event(AuditKind::TokenIssued, &token.realm)
            .grant_type(grant_type.as_str())
            .client(&token.client_id)
            .subject(&token.subject)
            .target(token_id_hex(&token.id));
        self.audit(e).await;
    }

    /// Audits the revocation of grant `grant_id` of `client_id`, for `reason`.
    pub async fn audit_grant_revoked(&self, realm: &str, client_id: &str, grant_id: &[u8; 16], reason: &str) {
        self.audit(AuditRecord::grant_revoked(realm, self.now(), client_id, grant_id, reason)).await;
    }

    /// A new audit event of `kind` in `realm`, now, in the current request.
    pub fn audit_event(&self, kind: AuditKind, realm: &str) -> AuditRecord {
        AuditRecord::new(kind, Some(realm), self.now())
    }

    /// Records `event` in the audit log (see `audit::log` for what waits).
    pub async fn audit(&self, event: AuditRecord) {
        self.audit.record(event).await;
    }

    /// Audits a failed client authentication of `presented` (which named a client).
    async fn audit_client_failure(&self, realm: &str, presented: &PresentedClient, error: &OAuthError) {
        if error.code != crate::error::ErrorCode::InvalidClient {
            return;
        }
        let Some(client_id) = presented.client_id() else { return };
        let mut e = self.audit_event(AuditKind::ClientAuthFailed, realm).client(client_id);
        if let Some(endpoint) = crate::audit::RequestInfo::endpoint() {
            e = e.action(endpoint);
        }
        self.audit(e).await;
    }

    /// Authenticates the presented client against the database, uncached; a failure is
    /// audited.
    pub async fn authenticate_client(&self, realm: &str, presented: &PresentedClient) -> Result<Client, OAuthError> {
        let outcome = client_auth::authenticate(self.store.as_ref(), &self.hasher, realm, presented).await;
        if let Err(e) = &outcome {
            self.audit_client_failure(realm, presented, e).await;
        }
        outcome
    }

    /// Forgets cached keys, e.g. after a rotation made by this process.
    pub fn forget_keys(&self, realm: &str) {
        self.keys.write().unwrap_or_else(|p| p.into_inner()).remove(realm);
    }

    /// Authenticates against the cached copy of the client if there is one and it
    /// accepts the credentials, else against the database. Only for callers that check
    /// the copy's `revision` where it matters, and every refusal the copy leads to,
    /// against the database before answering (see `client_cache`).
    pub async fn authenticate_cached(
        &self,
        realm: &str,
        presented: &PresentedClient,
    ) -> Result<Authenticated, OAuthError> {
        if let Some(cached) = presented.client_id().and_then(|id| self.clients.get(realm, id))
            && client_auth::verify(Some(&cached), &self.hasher, presented).is_ok()
        {
            return Ok(Authenticated { client: cached, cached: true });
        }
        Ok(Authenticated { client: self.authenticate_fresh(realm, presented).await?, cached: false })
    }

    /// Authenticates against the database and caches what it read.
    pub async fn authenticate_fresh(
        &self,
        realm: &str,
        presented: &PresentedClient,
    ) -> Result<Arc<Client>, OAuthError> {
        match self.authenticate_client(realm, presented).await {
            Ok(client) => Ok(self.clients.put(client)),
            Err(e) => {
                // A copy that no longer authenticates must not be tried again.
                if let Some(id) = presented.client_id() {
                    self.clients.forget(realm, id);
                }
                Err(e)
            }
        }
    }

    /// Mints an access token in the realm's format and stores its record before
    /// returning it, so a token a client holds always has a row behind it. The row is
    /// written only if the client is still at `client.revision`; otherwise nothing is
    /// stored and the outcome is [`Issued::ClientChanged`].
    pub async fn issue_access_token(
        &self,
        realm: &Realm,
        client: &Client,
        kind: TokenKind,
        claims: TokenClaims,
    ) -> Result<Issued<IssuedToken>, OAuthError> {
        let minted = self.mint_access(realm, client, kind, claims).await?;
        let written =
            self.store.insert_token_if_client_at(&minted.record, client.revision).await.map_err(store_failure)?;
        if !written {
            return Ok(Issued::ClientChanged);
        }
        Ok(Issued::Token(IssuedToken { id: minted.record.id, expires_in: minted.expires_in(), token: minted.token }))
    }

    /// An access token in the realm's format, not yet stored.
    pub async fn mint_access(
        &self,
        realm: &Realm,
        client: &Client,
        kind: TokenKind,
        claims: TokenClaims,
    ) -> Result<MintedToken, OAuthError> {
        let now = self.now();
        // Customer tokens live as the realm says for customers, whatever the app's client.
        let ttl = if kind == TokenKind::Customer {
            realm.customer_ttl
        } else {
            client.access_ttl.unwrap_or(realm.access_ttl)
        };
        let mut record = TokenRecord {
            id: [0; 16],
            realm: realm.name.clone(),
            kind,
            verifier_hash: None,
            client_id: client.client_id.clone(),
            subject: claims.subject,
            username: claims.username,
            scope: claims.scope,
            grant_id: claims.grant_id,
            permissions: claims.permissions,
            test: claims.test,
            issued_at: now,
            expires_at: Some(now + ttl),
            revoked_at: None,
            used_at: None,
        };
        let token = match realm.token_format {
            TokenFormat::Opaque => {
                let minted = opaque::mint(kind);
                record.id = minted.id;
                record.verifier_hash = Some(minted.verifier_hash);
                minted.token
            }
            TokenFormat::Jwt => {
                record.id = crate::token::new_token_id();
                let ring = self.key_ring(&realm.name, None).await?;
                let key = ring.signer(realm.signing_alg).ok_or_else(|| {
                    OAuthError::server_error(format!("realm {} has no {} signing key", realm.name, realm.signing_alg))
                })?;
                let perm_bits = if record.permissions.is_empty() {
                    None
                } else {
                    Some(self.perm_bits(&realm.name, &record.permissions).await?)
                };
                let body = AccessTokenClaims {
                    aud: self.audience(&realm.name),
                    iss: self.issuer(&realm.name),
                    sub: record.subject.clone(),
                    client_id: record.client_id.clone(),
                    exp: now + ttl,
                    iat: now,
                    jti: token_id_hex(&record.id),
                    scope: record.scope.clone(),
                    kind: kind.as_str().to_owned(),
                    permissions: record.permissions.clone(),
                    test: record.test,
                    username: record.username.clone(),
                    authorities: claims.authorities,
                    nbf: None,
                    perm_bits,
                    teams: claims.teams,
                };
                jwt::sign(key, &body).map_err(OAuthError::server_error)?
            }
        };
        Ok(MintedToken { token, record })
    }

    /// The `perm_bits` value of `names` in `realm` (see `org::perm_bits`), read from
    /// the database: bits are stable while a name exists, but a name deleted and made
    /// again may take another bit, so no copy is kept.
    pub async fn perm_bits(&self, realm: &str, names: &[String]) -> Result<String, OAuthError> {
        let known = self.store.list_permissions(realm).await.map_err(store_failure)?;
        Ok(crate::org::perm_bits(names, &known))
    }

    /// The live key behind a presented API key string of `realm`, or `None` (not
    /// the format, a bad checksum: no lookup; unknown, wrong verifier, revoked, its
    /// app disabled, another realm's). A key found is recorded as used.
    pub async fn live_api_key(&self, realm: &str, presented: &str) -> Result<Option<StoredApiKey>, OAuthError> {
        let Some(parsed) = api_key::parse(presented) else { return Ok(None) };
        let stored = self.store.get_api_key(&parsed.id).await.map_err(store_failure)?;
        let live =
            stored.filter(|s| parsed.verifies(&s.key.verifier_hash) && s.key.test == parsed.test && s.standing(realm));
        if let Some(s) = &live {
            self.api_key_usage.record(&s.key, self.now());
        }
        Ok(live)
    }

    /// An app's server authenticating as `app_id:API_KEY` (Basic): the app's client and
    /// the key, `None` when the presented secret is not an API key at all (then it is
    /// an ordinary client's), `invalid_client` when it is one that does not
    /// authenticate this app.
    pub async fn authenticate_app(
        &self,
        realm: &str,
        presented: &PresentedClient,
    ) -> Result<Option<(Client, ApiKey)>, OAuthError> {
        let outcome = self.authenticate_app_unaudited(realm, presented).await;
        if let Err(e) = &outcome {
            self.audit_client_failure(realm, presented, e).await;
        }
        outcome
    }

    async fn authenticate_app_unaudited(
        &self,
        realm: &str,
        presented: &PresentedClient,
    ) -> Result<Option<(Client, ApiKey)>, OAuthError> {
        let (client_id, secret) = match presented {
            PresentedClient::Basic { client_id, secret } | PresentedClient::Post { client_id, secret } => {
                (client_id, secret)
            }
            _ => return Ok(None),
        };
        if api_key::parse(secret).is_none() {
            return Ok(None);
        }
        let failed =
            || OAuthError::invalid_client("client authentication failed: unknown app, or a revoked or unknown API key");
        if !matches!(presented, PresentedClient::Basic { .. }) {
            return Err(OAuthError::invalid_client("an app authenticates with client_secret_basic (app_id:API_KEY)"));
        }
        let Some(stored) = self.live_api_key(realm, secret).await? else { return Err(failed()) };
        if stored.key.app_id != *client_id {
            return Err(failed());
        }
        let client = self.store.get_client(realm, client_id).await.map_err(store_failure)?;
        match client {
            Some(c) if !c.disabled => Ok(Some((c, stored.key))),
            _ => Err(failed()),
        }
    }

    /// A refresh token (always opaque) for `grant`, with the grant's full scope, not
    /// yet stored. Its lifetime is the client's, else the realm's; `None` never ends.
    pub fn mint_refresh(&self, realm: &Realm, client: &Client, grant: &Grant) -> MintedToken {
        let now = self.now();
        let minted = opaque::mint(TokenKind::Refresh);
        let ttl = client.refresh_ttl.or(realm.refresh_ttl);
        MintedToken {
            token: minted.token,
            record: TokenRecord {
                id: minted.id,
                realm: realm.name.clone(),
                kind: TokenKind::Refresh,
                verifier_hash: Some(minted.verifier_hash),
                client_id: client.client_id.clone(),
                subject: grant.subject.clone(),
                username: grant.username.clone(),
                scope: grant.scope.clone(),
                grant_id: Some(grant.id),
                permissions: grant.permissions.clone(),
                test: grant.test,
                issued_at: now,
                expires_at: ttl.map(|t| now + t),
                revoked_at: None,
                used_at: None,
            },
        }
    }

    /// Access token with `scope` (a subset of the grant's) and, if the client may
    /// refresh, a refresh token, for a grant; nothing stored yet.
    pub async fn mint_for_grant(
        &self,
        realm: &Realm,
        client: &Client,
        grant: &Grant,
        scope: &str,
        authorities: Option<Vec<String>>,
    ) -> Result<GrantTokens, OAuthError> {
        self.mint_for_grant_as(realm, client, grant, scope, authorities, TokenKind::Access).await
    }

    /// [`Self::mint_for_grant`] with an access token of `kind` (`customer` for a
    /// customer's grant).
    pub async fn mint_for_grant_as(
        &self,
        realm: &Realm,
        client: &Client,
        grant: &Grant,
        scope: &str,
        authorities: Option<Vec<String>>,
        kind: TokenKind,
    ) -> Result<GrantTokens, OAuthError> {
        let claims = TokenClaims {
            subject: grant.subject.clone(),
            username: grant.username.clone(),
            scope: scope.to_owned(),
            grant_id: Some(grant.id),
            permissions: grant.permissions.clone(),
            test: grant.test,
            authorities,
            teams: grant.teams.clone(),
        };
        let access = self.mint_access(realm, client, kind, claims).await?;
        let refresh = client.allows_grant(GrantType::RefreshToken).then(|| self.mint_refresh(realm, client, grant));
        Ok(GrantTokens { access, refresh })
    }
}

/// The `action` of a sign-in event: where the password was given.
fn sign_in_channel() -> &'static str {
    match crate::audit::RequestInfo::endpoint().as_deref() {
        Some("token") => "password_grant",
        _ => "login_page",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client that changed again during the one retry is told what it was told when
    /// this outcome was an error description: 503 `temporarily_unavailable`, retry.
    #[test]
    fn a_client_changed_during_the_retry_is_answered_503_retry() {
        let e = Issued::<()>::ClientChanged.into_result().unwrap_err();
        assert_eq!((e.code.as_str(), e.code.http_status()), ("temporarily_unavailable", 503));
        assert_eq!(e.description(), "the client was changed while this request was served; retry");
        assert!(Issued::Token(7).map(|n| n + 1).into_result().is_ok_and(|n| n == 8));
    }
}
