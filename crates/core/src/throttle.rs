//! Sign-in throttling for the login page and the password grant (RFC 6749 §4.3.2:
//! "MUST protect the endpoint against brute force attacks"), as hosted services do it:
//! only failures count, so a backend or an office that signs many people in from one
//! address is never refused for its successes.
//!
//! - One account from one address: [`PER_PAIR`] failures in a window refuse that pair
//!   for the rest of the window. The same account from elsewhere is not refused, so
//!   naming a user is not enough to lock them out.
//! - One address against any accounts (password spraying): a budget of failures per
//!   window ([`PER_ADDRESS`] by default, `Authority::with_sign_in_failures_per_address`).
//! - One account from anywhere: past [`ACCOUNT_FREE`] failures, each attempt on it waits
//!   longer before its password is checked ([`account_delay`]): slower guessing from
//!   many addresses, never a lockout an attacker can impose.
//!
//! Counters live in the database, so every instance shares them. The pair and address
//! counters are reserved while the argon2 permit is held: one conditional upsert per
//! counter in one transaction refuses, writing nothing, when either is at its limit. A
//! success takes its reservation back; a failure keeps it and also counts against the
//! account. So a concurrent burst, on any number of instances, never has more than the
//! limit checked; honest sign-ins hold a reservation only while their argon2 runs (at
//! most one per permit, one permit per core); refusals write nothing. Reserving after
//! the permit, not before, keeps a queue of honest sign-ins waiting for a core from
//! holding reservations that would refuse the next ones.
//!
//! Counting by username whether or not the account exists reveals nothing about which
//! accounts exist.

use std::net::IpAddr;
use std::time::Duration;

use crate::address::address_key;
use crate::clock::Clock;
use crate::error::{OAuthError, store_failure};
use crate::model::{User, UserKind};
use crate::password::PasswordChecker;
use crate::store::{FailureKey, Store, StoreResult};

/// Length of a counting window.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures of one account from one address per window before that pair is refused.
pub const PER_PAIR: u32 = 10;
/// Failures from one address, over all accounts, per window by default (higher than
/// [`PER_PAIR`]: many people may share a NAT and mistype).
pub const PER_ADDRESS: u32 = 100;
/// Failures of one account from all addresses per window answered without delay.
pub const ACCOUNT_FREE: u32 = 2 * PER_PAIR;
/// The longest wait [`account_delay`] imposes.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Longest username looked up or counted; longer ones are refused before anything is
/// stored, so counter keys stay bounded.
pub const MAX_USERNAME_LEN: usize = 255;
/// The address counted for a request that came without one (a context with no peer).
const UNKNOWN_ADDRESS: &str = "unknown";

/// The account a username is counted under (usernames match case-insensitively).
pub fn account_key(username: &str) -> String {
    username.to_lowercase()
}

/// How long an attempt on an account that has `failures` in its window waits before
/// its password is checked: nothing up to [`ACCOUNT_FREE`], then doubling from 250 ms
/// up to [`MAX_DELAY`].
pub fn account_delay(failures: u32) -> Duration {
    match failures.checked_sub(ACCOUNT_FREE) {
        None | Some(0) => Duration::ZERO,
        Some(over) => Duration::from_millis(250u64 << (over - 1).min(5)).min(MAX_DELAY),
    }
}

pub fn throttled() -> OAuthError {
    OAuthError::invalid_grant("too many failed sign-ins for this account from this address; try again later")
}

pub fn username_too_long() -> OAuthError {
    OAuthError::invalid_grant(format!("the username is longer than {MAX_USERNAME_LEN} bytes"))
}

/// Clears every counter of `username` in `realm` (from every address, and across
/// addresses); answers how many there were. The per-address budgets stay.
pub async fn unlock(store: &dyn Store, realm: &str, username: &str) -> StoreResult<u64> {
    store.clear_sign_in_failures(realm, &account_key(username)).await
}

/// Why a sign-in failed. Callers show one answer for `BadCredentials` whatever the
/// cause (unknown user, wrong password, disabled account, a customer account).
#[derive(Debug)]
pub enum SignInFailure {
    Throttled,
    BadCredentials,
    UsernameTooLong,
    Unavailable(OAuthError),
}

/// What a sign-in uses of the server's state (`Authority::sign_in` lends it).
pub struct SignInContext<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub passwords: &'a PasswordChecker,
    /// Failed sign-ins allowed from one address per window; 0: no per-address limit.
    pub failures_per_address: u32,
}

/// The one sign-in sequence of the login page and the password grant: wait out the
/// account's delay, find the account by username, reserve a failure on the pair and
/// the address, check the password (against a dummy hash when there is no account),
/// require an enabled staff account, then settle the reservation.
pub async fn sign_in(
    ctx: &SignInContext<'_>,
    realm: &str,
    username: &str,
    password: &str,
    addr: Option<IpAddr>,
    kind: UserKind,
) -> Result<User, SignInFailure> {
    let unavailable = |e| SignInFailure::Unavailable(store_failure(e));
    if username.len() > MAX_USERNAME_LEN {
        return Err(SignInFailure::UsernameTooLong);
    }
    // No account has an empty username, and its pair counter would be the address's.
    if username.is_empty() {
        return Err(SignInFailure::BadCredentials);
    }
    let store = ctx.store;
    let key = |account: &str, address: &str| FailureKey {
        realm: realm.to_owned(),
        account: account.to_owned(),
        address: address.to_owned(),
    };
    let account = account_key(username);
    let address = addr.map_or_else(|| UNKNOWN_ADDRESS.to_owned(), address_key);
    let account_wide = key(&account, "");
    let account_failures =
        store.sign_in_failures(&account_wide, ctx.clock.now(), WINDOW_SECS).await.map_err(unavailable)?;
    let delay = account_delay(account_failures);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let user = store.find_user(realm, username).await.map_err(unavailable)?;
    // Only a username match signs in (find_user also matches ids).
    let user = user.filter(|u| account_key(&u.username) == account);

    let slot = ctx.passwords.slot().await;
    let mut limits = vec![(key(&account, &address), PER_PAIR)];
    if ctx.failures_per_address > 0 {
        limits.push((key("", &address), ctx.failures_per_address));
    }
    let now = ctx.clock.now();
    let Some(counts) = store.reserve_sign_in_failure(&limits, now, WINDOW_SECS).await.map_err(unavailable)? else {
        return Err(SignInFailure::Throttled);
    };
    let password_ok = slot.check(password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    match user {
        Some(u) if password_ok && !u.disabled && u.kind == kind => {
            let reserved: Vec<_> = limits.into_iter().zip(&counts).map(|((k, _), c)| (k, c.window_start)).collect();
            store.release_sign_in_failure(&reserved).await.map_err(unavailable)?;
            Ok(u)
        }
        _ => {
            // Once per lock, not once per failure: a brute-force run must not flood the log.
            if limits.iter().zip(&counts).any(|((_, limit), c)| c.failures == *limit) {
                tracing::warn!(realm, address, pair_failures = counts[0].failures, "sign-in failures reached a limit");
            }
            store.reserve_sign_in_failure(&[(account_wide, u32::MAX)], now, WINDOW_SECS).await.map_err(unavailable)?;
            Err(SignInFailure::BadCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_peers_are_counted_by_their_64_and_ipv4_as_is() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::1"), "::/64");
        assert_eq!(key("127.0.0.2"), "127.0.0.2");
        assert_ne!(key("127.0.0.2"), key("127.0.0.3"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7", "an IPv4-mapped peer is its IPv4 address");
    }

    #[test]
    fn the_account_delay_grows_and_is_bounded() {
        assert_eq!(account_delay(0), Duration::ZERO);
        assert_eq!(account_delay(ACCOUNT_FREE), Duration::ZERO);
        assert_eq!(account_delay(ACCOUNT_FREE + 1), Duration::from_millis(250));
        assert_eq!(account_delay(ACCOUNT_FREE + 2), Duration::from_millis(500));
        assert_eq!(account_delay(ACCOUNT_FREE + 6), MAX_DELAY);
        assert_eq!(account_delay(u32::MAX), MAX_DELAY);
    }
}
