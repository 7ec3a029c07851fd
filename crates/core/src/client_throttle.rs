//! Client-secret throttling at every endpoint that authenticates a client (RFC 6749
//! §2.3.1: the server "MUST protect any endpoint utilizing it against brute force
//! attacks"), built like sign-in throttling (`throttle`) and on its counters:
//!
//! - One client from one address: [`PER_PAIR`] failures in a window refuse that pair,
//!   even with the right secret, for the rest of the window (429 with `Retry-After`).
//!   The client from any other address is not refused, so naming a client is not
//!   enough to lock its honest caller out.
//! - One address against any clients of a realm: a budget of failures per window
//!   ([`PER_ADDRESS`] by default, `Authority::with_client_auth_failures_per_address`).
//! - One client from anywhere: past `throttle::ACCOUNT_FREE` failures, a first attempt
//!   from an address this instance does not know yet waits (`throttle::account_delay`):
//!   a delay, never a lockout.
//!
//! Only failures count, and only secrets presented (Basic or in the body) are
//! guesses. The counters are the sign-in ones, in the database, so they hold across
//! instances; a client's rows sit under the realm key `R/clients`, which no realm name
//! can spell (names are lowercase letters, digits and `-`).
//!
//! The hot path stays free of database work. A pair (client, address) that has
//! authenticated on this instance is trusted: its secret is checked first, and only a
//! failure reaches the database (and ends the trust). Any other attempt reserves a
//! failure before its secret is checked, by one conditional upsert per counter in one
//! transaction, as sign-in does, so a concurrent burst on any number of instances never
//! gets more secrets checked than the limit; a success takes the reservation back.
//! Untrusted attempts of one pair take turns on this instance, so an honest caller
//! opening many connections at once proves itself once instead of filling its own
//! pair's counter with reservations.

use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::address::{address_block, address_key};
use crate::client_auth::PresentedClient;
use crate::clock::Clock;
use crate::error::{ErrorCode, OAuthError, store_failure};
use crate::store::{FailureKey, Store};
use crate::throttle::{WINDOW_SECS, account_delay};

/// Failures of one client from one address per window before that pair is refused.
pub const PER_PAIR: u32 = 10;
/// Failures from one address, over all clients of a realm, per window by default.
pub const PER_ADDRESS: u32 = 100;
/// Longer client ids name no client and are not counted (their check fails anyway).
const MAX_CLIENT_ID_LEN: usize = 255;
/// Trusted pairs kept per instance; past it an arbitrary one is forgotten (it proves
/// itself again on its next request).
const MAX_TRUSTED: usize = 65_536;
const SHARDS: usize = 64;
/// Turns for untrusted attempts: pairs hashing to one stripe take turns.
const STRIPES: usize = 256;
const UNKNOWN_ADDRESS: &str = "unknown";

/// The answer past a limit. `Retry-After` is the window, the longest the lock can last.
pub fn throttled() -> OAuthError {
    OAuthError::too_many_requests(
        "too many failed client authentications for this client from this address; retry later",
        WINDOW_SECS as u64,
    )
}

pub struct ClientThrottle {
    failures_per_address: u32,
    hasher: RandomState,
    trusted: Box<[Mutex<HashSet<u64>>]>,
    turns: Box<[tokio::sync::Mutex<()>]>,
}

impl Default for ClientThrottle {
    fn default() -> Self {
        Self::new(PER_ADDRESS)
    }
}

/// The counters one attempt touches.
struct Keys {
    pair: FailureKey,
    address: FailureKey,
    client: FailureKey,
}

/// The realm key of a realm's client counters, apart from its sign-in ones.
fn counters_realm(realm: &str) -> String {
    format!("{realm}/clients")
}

/// Clears every counter of `client_id` in `realm` (from every address, and across
/// addresses); answers how many there were. The per-address budgets stay, as a user
/// unlock leaves them: they count an address's guesses at every client.
pub async fn unlock(store: &dyn Store, realm: &str, client_id: &str) -> crate::store::StoreResult<u64> {
    store.clear_sign_in_failures(&counters_realm(realm), client_id).await
}

impl Keys {
    fn new(realm: &str, client_id: &str, addr: Option<IpAddr>) -> Self {
        let realm = counters_realm(realm);
        let address = addr.map_or_else(|| UNKNOWN_ADDRESS.to_owned(), address_key);
        let key = |account: &str, address: &str| FailureKey {
            realm: realm.clone(),
            account: account.to_owned(),
            address: address.to_owned(),
        };
        Self { pair: key(client_id, &address), address: key("", &address), client: key(client_id, "") }
    }
}

impl ClientThrottle {
    /// `failures_per_address`: failed client authentications allowed from one address
    /// per window over all clients of a realm; 0 turns that budget off.
    pub fn new(failures_per_address: u32) -> Self {
        Self {
            failures_per_address,
            hasher: RandomState::new(),
            trusted: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect(),
            turns: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    fn shard(&self, pair: u64) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.trusted[(pair % SHARDS as u64) as usize].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_trusted(&self, pair: u64) -> bool {
        self.shard(pair).contains(&pair)
    }

    fn trust(&self, pair: u64, trusted: bool) {
        let mut shard = self.shard(pair);
        if !trusted {
            shard.remove(&pair);
            return;
        }
        if shard.len() >= MAX_TRUSTED / SHARDS
            && let Some(any) = shard.iter().next().copied()
        {
            shard.remove(&any);
        }
        shard.insert(pair);
    }

    fn limits(&self, keys: &Keys) -> Vec<(FailureKey, u32)> {
        let mut limits = vec![(keys.pair.clone(), PER_PAIR)];
        if self.failures_per_address > 0 {
            limits.push((keys.address.clone(), self.failures_per_address));
        }
        limits
    }

    /// Runs `authenticate` (the request's check of the presented client) under the
    /// throttle. A refusal past a limit is [`throttled`]; an `invalid_client` from
    /// `authenticate` is a failure and is counted.
    pub async fn run<T>(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
        realm: &str,
        presented: &PresentedClient,
        addr: Option<IpAddr>,
        authenticate: impl Future<Output = Result<T, OAuthError>>,
    ) -> Result<T, OAuthError> {
        let client_id = match presented {
            PresentedClient::Basic { client_id, .. } | PresentedClient::Post { client_id, .. } => client_id,
            // No secret, nothing guessed.
            PresentedClient::Public { .. } | PresentedClient::Anonymous => return authenticate.await,
        };
        if client_id.len() > MAX_CLIENT_ID_LEN {
            return authenticate.await;
        }
        let pair = self.hasher.hash_one((realm, client_id, addr.map(address_block)));
        if self.is_trusted(pair) {
            return self.trusted_attempt(store, clock, realm, client_id, addr, pair, authenticate).await;
        }
        let keys = Keys::new(realm, client_id, addr);
        let failures = store.sign_in_failures(&keys.client, clock.now(), WINDOW_SECS).await.map_err(store_failure)?;
        let delay = account_delay(failures);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let _turn = self.turns[(pair % STRIPES as u64) as usize].lock().await;
        if self.is_trusted(pair) {
            drop(_turn);
            return self.trusted_attempt(store, clock, realm, client_id, addr, pair, authenticate).await;
        }
        let limits = self.limits(&keys);
        let now = clock.now();
        let Some(counts) = store.reserve_sign_in_failure(&limits, now, WINDOW_SECS).await.map_err(store_failure)?
        else {
            return Err(throttled());
        };
        let result = authenticate.await;
        match &result {
            Err(e) if e.code == ErrorCode::InvalidClient => {
                // Once per lock, not once per failure: a guessing run must not flood the log.
                if limits.iter().zip(&counts).any(|((_, limit), c)| c.failures == *limit) {
                    tracing::warn!(
                        realm,
                        client_id,
                        address = keys.pair.address,
                        "client authentication failures reached a limit"
                    );
                }
                store
                    .reserve_sign_in_failure(&[(keys.client, u32::MAX)], now, WINDOW_SECS)
                    .await
                    .map_err(store_failure)?;
            }
            _ => {
                let reserved: Vec<_> = limits.into_iter().zip(&counts).map(|((k, _), c)| (k, c.window_start)).collect();
                store.release_sign_in_failure(&reserved).await.map_err(store_failure)?;
                if result.is_ok() {
                    self.trust(pair, true);
                }
            }
        }
        result
    }

    /// A pair that authenticated here before: its secret is checked first; a failure
    /// ends the trust and is counted like any other (refused past a limit).
    #[allow(clippy::too_many_arguments)]
    async fn trusted_attempt<T>(
        &self,
        store: &dyn Store,
        clock: &dyn Clock,
        realm: &str,
        client_id: &str,
        addr: Option<IpAddr>,
        pair: u64,
        authenticate: impl Future<Output = Result<T, OAuthError>>,
    ) -> Result<T, OAuthError> {
        let result = authenticate.await;
        let Err(e) = &result else { return result };
        if e.code != ErrorCode::InvalidClient {
            return result;
        }
        self.trust(pair, false);
        let keys = Keys::new(realm, client_id, addr);
        let mut limits = self.limits(&keys);
        limits.push((keys.client, u32::MAX));
        let counted = store.reserve_sign_in_failure(&limits, clock.now(), WINDOW_SECS).await.map_err(store_failure)?;
        if counted.is_none() {
            return Err(throttled());
        }
        result
    }
}
