//! The issuer's signing keys, fetched from its JWKS and refetched when a token names
//! a key not seen yet (a rotation), at most once per interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

use crate::error::{Error, Result};

/// The shortest time between two fetches triggered by unknown `kid`s by default, so
/// that tokens with made-up `kid`s cannot make the resource server hammer the issuer.
pub(crate) const REFETCH_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub(crate) key: Arc<DecodingKey>,
    /// The one algorithm this key verifies (RFC 8725 §3.1).
    pub(crate) alg: Algorithm,
}

pub(crate) struct Jwks {
    url: String,
    http: reqwest::Client,
    state: RwLock<State>,
}

struct State {
    keys: HashMap<String, VerifyingKey>,
    fetched: Option<Instant>,
}

impl Jwks {
    pub(crate) fn new(url: String, http: reqwest::Client) -> Self {
        Self { url, http, state: RwLock::new(State { keys: HashMap::new(), fetched: None }) }
    }

    /// The key `kid`, fetching the set if it is unknown and the last fetch is older
    /// than `refetch_interval`; `None` if the issuer does not publish it.
    pub(crate) async fn key(&self, kid: &str, refetch_interval: Duration) -> Result<Option<VerifyingKey>> {
        {
            let state = self.state.read().await;
            if let Some(k) = state.keys.get(kid) {
                return Ok(Some(k.clone()));
            }
            if state.fetched.is_some_and(|t| t.elapsed() < refetch_interval) {
                return Ok(None);
            }
        }
        let mut state = self.state.write().await;
        // Another caller may have fetched while this one waited.
        if state.fetched.is_none_or(|t| t.elapsed() >= refetch_interval) {
            state.keys = self.fetch().await?;
            state.fetched = Some(Instant::now());
        }
        Ok(state.keys.get(kid).cloned())
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>> {
        let response =
            self.http.get(&self.url).send().await.map_err(|e| Error::Network(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(Error::Discovery(format!("the JWKS answered {}", response.status())));
        }
        let set: JwkSet =
            response.json().await.map_err(|e| Error::Discovery(format!("the JWKS: {}", e.without_url())))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            // A key without a kid or an algorithm cannot be pinned: skipped.
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, jwk.common.key_algorithm) else { continue };
            let Ok(alg) = Algorithm::try_from(alg) else { continue };
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            keys.insert(kid.clone(), VerifyingKey { key: Arc::new(key), alg });
        }
        Ok(keys)
    }
}
