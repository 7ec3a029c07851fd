//! The token manager: gets, caches, refreshes, introspects, revokes and forgets tokens
//! for one client of one authorization server.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_proto::TokenResponse;

use crate::config::ClientConfig;
use crate::discovery::{self, ServerMetadata};
use crate::error::{Error, Result};
use crate::introspection::Introspection;
use crate::requests::{Requests, http_client};
use crate::store::{MemoryStore, TokenStore};
use crate::token::{AccessToken, StoredToken, Subject, normalize_scopes};

/// What concurrent `get`s wait on together: one subject and one scope list.
type FlightKey = (Subject, Option<Vec<String>>);

/// Gets tokens for a client and keeps them: see the crate documentation.
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    metadata: ServerMetadata,
    requests: Requests,
    store: Arc<dyn TokenStore>,
    /// The manager reads here; the store is written through.
    tokens: RwLock<HashMap<Subject, Vec<Cached>>>,
    flights: Mutex<HashMap<FlightKey, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    /// When a `get` that finds this token starts a refresh in the background, so that
    /// callers under load never all wait on an expired token.
    refresh_from: Option<SystemTime>,
}

impl TokenManager {
    /// Discovers the server's endpoints from `issuer` (RFC 8414, then OpenID Connect
    /// discovery) and loads the tokens of the configured store.
    pub async fn discover(issuer: &str, config: ClientConfig) -> Result<Self> {
        let http = http_client(config.http_timeout)?;
        let metadata = discovery::discover(&http, issuer).await?;
        Self::with_metadata(metadata, config, http).await
    }

    /// A manager for a server whose metadata the caller already has.
    pub async fn with_metadata(metadata: ServerMetadata, config: ClientConfig, http: reqwest::Client) -> Result<Self> {
        let requests = Requests::new(&config, &metadata, http)?;
        let store: Arc<dyn TokenStore> = config.store.clone().unwrap_or_else(|| Arc::new(MemoryStore::default()));
        let mut tokens: HashMap<Subject, Vec<Cached>> = HashMap::new();
        for t in store.load().await? {
            let cached = Cached::new(t, &config);
            tokens.entry(cached.token.0.subject.clone()).or_default().push(cached);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                metadata,
                requests,
                store,
                tokens: RwLock::new(tokens),
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn metadata(&self) -> &ServerMetadata {
        &self.inner.metadata
    }

    /// A valid access token of `subject`. With `scopes`, one whose scopes are exactly
    /// those; otherwise a stored refresh token of the subject is refreshed down to
    /// them (RFC 6749 §6), and for [`Subject::Client`] client credentials are the last
    /// resort. With `None`, any valid stored token of the subject. Concurrent calls for
    /// the same subject and scopes send one request.
    pub async fn get(&self, subject: &Subject, scopes: Option<&[&str]>) -> Result<AccessToken> {
        let wanted = scopes.map(normalize_scopes);
        let now = SystemTime::now();
        if let Some(hit) = self.inner.lookup(subject, wanted.as_deref(), now) {
            if hit.refresh_from.is_some_and(|from| now >= from) {
                self.refresh_in_background(subject.clone(), wanted);
            }
            return Ok(hit.token);
        }
        let flight = self.inner.flight((subject.clone(), wanted.clone()));
        let _turn = flight.lock().await;
        // Whoever held the turn before may have fetched what this call needs.
        if let Some(hit) = self.inner.lookup(subject, wanted.as_deref(), SystemTime::now()) {
            return Ok(hit.token);
        }
        self.inner.fetch(subject, wanted.as_deref()).await
    }

    /// Stores a token response obtained elsewhere (e.g. from the code flow), with its
    /// refresh token, for `subject`.
    pub async fn register(&self, subject: &Subject, response: TokenResponse) -> Result<AccessToken> {
        self.inner.store_response(subject, response, None, None).await
    }

    /// What the server says of `token`; or, when `token` is stored and was obtained
    /// less than `min_introspect_interval` ago, what the stored copy says. The answer is
    /// returned, not saved.
    pub async fn introspect(&self, token: &str) -> Result<Introspection> {
        let interval = self.inner.config.min_introspect_interval;
        if !interval.is_zero() {
            let now = SystemTime::now();
            let fresh = self.inner.find(token).filter(|t| {
                now.duration_since(t.0.obtained_at).is_ok_and(|age| age < interval) && t.0.is_valid(now, Duration::ZERO)
            });
            if let Some(t) = fresh {
                return Ok(self.inner.local_introspection(&t.0));
            }
        }
        self.inner.requests.introspect(token).await
    }

    /// Revokes `token` at the server (RFC 7009); the stored copy stays until `delete`.
    pub async fn revoke(&self, token: &str) -> Result<()> {
        let is_refresh = self.inner.is_stored_refresh_token(token);
        self.inner.requests.revoke(token, is_refresh).await
    }

    /// Forgets `token` (an access token) locally, and with `revoke_on_delete` also
    /// revokes it at the server, best effort: a failure is logged, not returned.
    /// Returns whether it was stored.
    pub async fn delete(&self, token: &str) -> Result<bool> {
        let removed = self.inner.remove(|t| t.access_token == token).await?;
        self.inner.revoke_removed(&removed).await;
        Ok(!removed.is_empty())
    }

    /// Forgets every token of `subject` (and revokes them with `revoke_on_delete`).
    /// Returns how many there were.
    pub async fn delete_all(&self, subject: &Subject) -> Result<usize> {
        let removed = self.inner.remove(|t| &t.subject == subject).await?;
        self.inner.revoke_removed(&removed).await;
        Ok(removed.len())
    }

    /// Starts a refresh of `subject`'s token for `wanted` unless one is under way.
    fn refresh_in_background(&self, subject: Subject, wanted: Option<Vec<String>>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let inner = self.inner.clone();
        let flight = inner.flight((subject.clone(), wanted.clone()));
        runtime.spawn(async move {
            let Ok(_turn) = flight.try_lock() else { return };
            if let Err(e) = inner.fetch(&subject, wanted.as_deref()).await {
                tracing::debug!(error = %e, "proactive token refresh failed; the token is used until it expires");
            }
        });
    }
}

impl Cached {
    fn new(token: StoredToken, config: &ClientConfig) -> Self {
        let refresh_from = token.expires_at.and_then(|exp| {
            let lifetime = exp.duration_since(token.obtained_at).ok()?;
            // Before the leeway, give or take a fifth, so that many managers started
            // together do not refresh together.
            let ahead = config.refresh_ahead.unwrap_or(lifetime / 10);
            let jittered = ahead.mul_f64(0.8 + 0.4 * unit_random(&token.access_token));
            Some(exp.checked_sub(config.leeway + jittered).unwrap_or(token.obtained_at))
        });
        Self { token: AccessToken(Arc::new(token)), refresh_from }
    }
}

/// A number in [0, 1) that differs per token: spread, not secrecy.
fn unit_random(seed: &str) -> f64 {
    let h = std::collections::hash_map::RandomState::new().hash_one(seed);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Inner {
    fn lookup(&self, subject: &Subject, wanted: Option<&[String]>, now: SystemTime) -> Option<Cached> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let valid = tokens.get(subject)?.iter().filter(|c| c.token.0.is_valid(now, self.config.leeway));
        match wanted {
            Some(w) => valid.filter(|c| c.token.0.scopes == w).max_by_key(|c| c.token.0.obtained_at).cloned(),
            None => valid.max_by_key(|c| c.token.0.obtained_at).cloned(),
        }
    }

    fn find(&self, access_token: &str) -> Option<AccessToken> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        tokens.values().flatten().find(|c| c.token.0.access_token == access_token).map(|c| c.token.clone())
    }

    fn is_stored_refresh_token(&self, token: &str) -> bool {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        tokens.values().flatten().any(|c| c.token.0.refresh_token.as_deref() == Some(token))
    }

    fn flight(&self, key: FlightKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Keys nobody waits on any more are dropped as others are added.
        flights.retain(|_, f| Arc::strong_count(f) > 1);
        flights.entry(key).or_default().clone()
    }

    /// The refresh tokens of `subject`, those whose token covers `wanted` first, each
    /// once.
    fn refresh_candidates(&self, subject: &Subject, wanted: Option<&[String]>) -> Vec<String> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut entries: Vec<&Cached> = tokens.get(subject).map(|v| v.iter().collect()).unwrap_or_default();
        let covers = |c: &Cached| wanted.is_none_or(|w| w.iter().all(|s| c.token.0.scopes.contains(s)));
        entries.sort_by_key(|c| (!covers(c), std::cmp::Reverse(c.token.0.obtained_at)));
        let mut out: Vec<String> = Vec::new();
        for rt in entries.iter().filter_map(|c| c.token.0.refresh_token.clone()) {
            if !out.contains(&rt) {
                out.push(rt);
            }
        }
        out
    }

    async fn fetch(&self, subject: &Subject, wanted: Option<&[String]>) -> Result<AccessToken> {
        for rt in self.refresh_candidates(subject, wanted) {
            match self.requests.refresh(&rt, wanted).await {
                Ok(response) => return self.store_response(subject, response, Some(&rt), wanted).await,
                // Spent, expired or revoked: never try it again.
                Err(Error::InvalidGrant(_)) => self.forget_refresh_token(subject, &rt).await?,
                Err(Error::InvalidScope(_)) if *subject == Subject::Client => break,
                Err(e) => return Err(e),
            }
        }
        if *subject == Subject::Client {
            let response = self.requests.client_credentials(wanted).await?;
            return self.store_response(subject, response, None, wanted).await;
        }
        Err(Error::NoRefreshToken)
    }

    /// Stores a token response for `subject`. `old_refresh` is the refresh token it
    /// came from (now spent, when the server rotated it); `asked` the scopes requested,
    /// which an answer without `scope` granted (RFC 6749 §5.1).
    async fn store_response(
        &self,
        subject: &Subject,
        response: TokenResponse,
        old_refresh: Option<&str>,
        asked: Option<&[String]>,
    ) -> Result<AccessToken> {
        let now = SystemTime::now();
        let scopes = match &response.scope {
            Some(s) => normalize_scopes(&s.split(' ').collect::<Vec<_>>()),
            None => asked.map(<[String]>::to_vec).unwrap_or_default(),
        };
        // A refresh answer without a refresh token keeps the old one (RFC 6749 §6).
        let refresh_token = response.refresh_token.clone().or_else(|| old_refresh.map(str::to_owned));
        let token = StoredToken {
            subject: subject.clone(),
            access_token: response.access_token,
            refresh_token: refresh_token.clone(),
            scopes,
            expires_at: response.expires_in.map(|s| now + Duration::from_secs(s)),
            obtained_at: now,
        };
        let cached = Cached::new(token, &self.config);
        let mut saved = vec![cached.token.0.as_ref().clone()];
        let mut replaced = Vec::new();
        {
            let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
            let list = tokens.entry(subject.clone()).or_default();
            // The new token supersedes the subject's token for the same scopes.
            list.retain(|c| {
                let keep = c.token.0.scopes != cached.token.0.scopes;
                if !keep {
                    replaced.push(c.token.0.access_token.clone());
                }
                keep
            });
            // A rotated refresh token is spent: every sibling gets the new one.
            if let (Some(old), Some(new)) = (old_refresh, &refresh_token)
                && old != new
            {
                for c in list.iter_mut().filter(|c| c.token.0.refresh_token.as_deref() == Some(old)) {
                    let mut t = c.token.0.as_ref().clone();
                    t.refresh_token = Some(new.clone());
                    saved.push(t.clone());
                    *c = Cached { token: AccessToken(Arc::new(t)), refresh_from: c.refresh_from };
                }
            }
            list.push(cached.clone());
        }
        if !replaced.is_empty() {
            self.store.remove(&replaced).await?;
        }
        for t in &saved {
            self.store.save(t).await?;
        }
        Ok(cached.token)
    }

    async fn forget_refresh_token(&self, subject: &Subject, rt: &str) -> Result<()> {
        let mut saved = Vec::new();
        {
            let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
            for c in tokens.get_mut(subject).into_iter().flatten() {
                if c.token.0.refresh_token.as_deref() == Some(rt) {
                    let mut t = c.token.0.as_ref().clone();
                    t.refresh_token = None;
                    saved.push(t.clone());
                    *c = Cached { token: AccessToken(Arc::new(t)), refresh_from: c.refresh_from };
                }
            }
        }
        for t in &saved {
            self.store.save(t).await?;
        }
        Ok(())
    }

    async fn remove(&self, which: impl Fn(&StoredToken) -> bool) -> Result<Vec<StoredToken>> {
        let mut removed = Vec::new();
        {
            let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
            for list in tokens.values_mut() {
                list.retain(|c| {
                    let gone = which(&c.token.0);
                    if gone {
                        removed.push(c.token.0.as_ref().clone());
                    }
                    !gone
                });
            }
            tokens.retain(|_, list| !list.is_empty());
        }
        let ids: Vec<String> = removed.iter().map(|t| t.access_token.clone()).collect();
        if !ids.is_empty() {
            self.store.remove(&ids).await?;
        }
        Ok(removed)
    }

    /// With `revoke_on_delete`: the removed access tokens, and each refresh token no
    /// stored token still holds. Failures are logged, never returned.
    async fn revoke_removed(&self, removed: &[StoredToken]) {
        if !self.config.revoke_on_delete {
            return;
        }
        for t in removed {
            if let Err(e) = self.requests.revoke(&t.access_token, false).await {
                tracing::warn!(error = %e, "revoking a deleted access token failed");
            }
        }
        let mut refresh: Vec<&str> = removed.iter().filter_map(|t| t.refresh_token.as_deref()).collect();
        refresh.sort_unstable();
        refresh.dedup();
        for rt in refresh {
            if self.is_stored_refresh_token(rt) {
                continue;
            }
            if let Err(e) = self.requests.revoke(rt, true).await {
                tracing::warn!(error = %e, "revoking a deleted refresh token failed");
            }
        }
    }

    /// What the stored copy of a fresh token says, in introspection's shape.
    fn local_introspection(&self, t: &StoredToken) -> Introspection {
        let unix = |s: SystemTime| s.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Introspection {
            active: true,
            scope: Some(t.scopes.join(" ")),
            client_id: Some(self.config.client_id.clone()),
            token_type: Some("Bearer".into()),
            exp: t.expires_at.map(unix),
            iat: Some(unix(t.obtained_at)),
            iss: Some(self.metadata.issuer.clone()),
            ..Default::default()
        }
    }
}
