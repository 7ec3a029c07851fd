//! Request-rate limits: token buckets per key (an address, a client, an admin token),
//! in memory, per instance.
//!
//! Per instance on purpose: a request-rate limit is checked on every request, and
//! sharing it through the database would add a write to each one (the hot paths are
//! built to need none). With N instances behind a balancer a key gets up to N times
//! the limit, which is the documented meaning of the setting. Guessing is bounded by
//! failure counters in the database instead (`throttle`, `client_throttle`), which
//! hold across instances.
//!
//! Memory is bounded: at most [`MAX_KEYS`] buckets per limiter, in shards. A shard
//! that is full first drops its full buckets (a full bucket is what a new key gets,
//! so nothing is lost), then its least recently used one; an attacker cycling
//! addresses or ids can make the limiter forget a key, which gives that key a fresh
//! bucket (never a refusal it did not earn), and cannot make memory grow.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets one limiter keeps at most.
pub const MAX_KEYS: usize = 65_536;
const SHARDS: usize = 64;

/// A rate: `count` requests per `per`, at most `count` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;

    /// `N/s`, `N/min` or `N/h` (a bare `N` is per second); N from 1 to 1,000,000.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid rate '{s}': expected N/s, N/min or N/h with N from 1 to 1000000, or off");
        let (count, unit) = s.trim().split_once('/').unwrap_or((s.trim(), "s"));
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if !(1..=1_000_000).contains(&count) {
            return Err(bad());
        }
        Ok(Self { count, per })
    }
}

impl Rate {
    /// `off` (or `0`) is no limit; anything else must parse as a [`Rate`].
    pub fn parse_optional(s: &str) -> Result<Option<Self>, String> {
        match s.trim() {
            "off" | "0" => Ok(None),
            other => other.parse().map(Some),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => return write!(f, "{}/{}ms", self.count, self.per.as_millis()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Keyed token buckets (GCRA: one timestamp per key, the time at which its bucket
/// would be full again).
pub struct RateLimiter {
    rate: Rate,
    /// Time between two requests at the sustained rate, in nanoseconds.
    interval: u64,
    /// How far ahead of now a bucket's timestamp may run: `count` intervals.
    tolerance: u64,
    start: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<u64, u64>>]>,
    max_per_shard: usize,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RateLimiter({})", self.rate)
    }
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_KEYS)
    }

    pub fn with_capacity(rate: Rate, max_keys: usize) -> Self {
        let interval = (rate.per.as_nanos() / u128::from(rate.count)).max(1) as u64;
        Self {
            rate,
            interval,
            tolerance: interval * u64::from(rate.count),
            start: Instant::now(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            max_per_shard: max_keys.div_ceil(SHARDS).max(1),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one request from `key`'s bucket, or says how long until one is there.
    /// Keys are hashed with a per-limiter random key, so no one can aim collisions.
    pub fn check(&self, key: impl Hash) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: impl Hash, now: Instant) -> Result<(), Duration> {
        let now = now.saturating_duration_since(self.start).as_nanos() as u64;
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash % SHARDS as u64) as usize];
        let mut buckets = shard.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= self.max_per_shard && !buckets.contains_key(&hash) {
            make_room(&mut buckets, now, self.max_per_shard);
        }
        let full_at = buckets.get(&hash).copied().unwrap_or(now).max(now);
        let next = full_at + self.interval;
        if next - now > self.tolerance {
            return Err(Duration::from_nanos(next - self.tolerance - now));
        }
        buckets.insert(hash, next);
        Ok(())
    }

    /// Buckets held (for tests of the bound).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the full buckets of a full shard, or else its least recently used one.
fn make_room(buckets: &mut HashMap<u64, u64>, now: u64, max: usize) {
    buckets.retain(|_, full_at| *full_at > now);
    if buckets.len() >= max {
        // The bucket that will be full soonest is the one used least lately.
        if let Some(oldest) = buckets.iter().min_by_key(|(_, full_at)| **full_at).map(|(k, _)| *k) {
            buckets.remove(&oldest);
        }
    }
}

/// Whole seconds a client should wait, for `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_nanos().div_ceil(1_000_000_000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!(rate("100/s"), Rate { count: 100, per: Duration::from_secs(1) });
        assert_eq!(rate("5"), Rate { count: 5, per: Duration::from_secs(1) });
        assert_eq!(rate(" 30 / min "), Rate { count: 30, per: Duration::from_secs(60) });
        assert_eq!(rate("2/h").to_string(), "2/h");
        for bad in ["", "0/s", "-1/s", "x/s", "5/day", "1000001/s", "5/"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
        assert_eq!(Rate::parse_optional("off").unwrap(), None);
        assert_eq!(Rate::parse_optional("0").unwrap(), None);
        assert_eq!(Rate::parse_optional("7/min").unwrap(), Some(rate("7/min")));
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(rate("3/s"));
        let t0 = limiter.start + Duration::from_secs(10);
        for _ in 0..3 {
            assert!(limiter.check_at("a", t0).is_ok());
        }
        let wait = limiter.check_at("a", t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(334), "{wait:?}");
        assert!(limiter.check_at("b", t0).is_ok(), "another key has its own bucket");
        assert!(limiter.check_at("a", t0 + wait).is_ok(), "one request back after the wait");
        assert!(limiter.check_at("a", t0 + wait).is_err());
        assert!((0..3).all(|_| limiter.check_at("a", t0 + Duration::from_secs(5)).is_ok()), "full again when idle");
    }

    #[test]
    fn refusals_do_not_use_up_the_bucket() {
        let limiter = RateLimiter::new(rate("1/s"));
        let t0 = limiter.start + Duration::from_secs(1);
        assert!(limiter.check_at("a", t0).is_ok());
        for _ in 0..100 {
            assert!(limiter.check_at("a", t0).is_err());
        }
        assert!(limiter.check_at("a", t0 + Duration::from_secs(1)).is_ok(), "hammering did not push the wait out");
    }

    #[test]
    fn cycling_keys_never_grows_the_limiter_past_its_bound_and_keeps_the_busy_key() {
        let limiter = RateLimiter::with_capacity(rate("2/min"), 640);
        let t0 = limiter.start + Duration::from_secs(1);
        assert!(limiter.check_at("busy", t0).is_ok() && limiter.check_at("busy", t0).is_ok());
        for i in 0..100_000u32 {
            let _ = limiter.check_at(i, t0);
            if i % 100 == 0 {
                assert!(limiter.check_at("busy", t0).is_err(), "the busy key is still limited after {i} others");
            }
        }
        assert!(limiter.len() <= 640, "{} buckets", limiter.len());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
