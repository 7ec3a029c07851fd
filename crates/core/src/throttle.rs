//! Sign-in throttling for the login page and the password grant (RFC 6749 §4.3.2:
//! "MUST protect the endpoint against brute force attacks").
//!
//! Attempts are counted in the database before the password is checked, so every
//! instance sees the same counts and a concurrent burst cannot slip past the limit.
//! Counting by username whether or not the account exists reveals nothing about
//! which accounts exist.

use std::net::IpAddr;
use std::time::Duration;

use crate::authority::{Authority, store_failure};
use crate::error::OAuthError;
use crate::model::{User, UserKind};

/// Length of a counting window.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Attempts on one username per window before it is locked for the rest of the window.
pub const PER_ACCOUNT: u32 = 10;
/// Attempts from one address per window by default (higher: many people may share a
/// NAT); `Authority::with_sign_in_limit_per_address` changes it.
pub const PER_ADDRESS: u32 = 100;
/// Attempts on one username answered without delay; later failures wait longer.
const FREE_ATTEMPTS: u32 = 3;

pub fn account_key(realm: &str, username: &str) -> String {
    format!("u:{realm}:{}", username.to_lowercase())
}

fn address_key(realm: &str, addr: IpAddr) -> String {
    format!("a:{realm}:{addr}")
}

/// An admitted attempt, to be reported back with [`Admission::failed`] or
/// [`Admission::succeeded`].
pub struct Admission {
    account_key: String,
    account_count: u32,
}

pub fn throttled() -> OAuthError {
    OAuthError::invalid_grant("too many sign-in attempts for this account or address; try again later")
}

/// Counts the attempt; `Err` (always the same error) when the account or the
/// address is over its limit.
pub async fn admit(
    authority: &Authority,
    realm: &str,
    username: &str,
    addr: Option<IpAddr>,
) -> Result<Admission, OAuthError> {
    let now = authority.now();
    let key = account_key(realm, username);
    let count = authority.store.count_login_attempt(&key, now, WINDOW_SECS).await.map_err(store_failure)?;
    let per_address = authority.sign_in_limit_per_address();
    let address_count = match addr.filter(|_| per_address > 0) {
        Some(a) => authority
            .store
            .count_login_attempt(&address_key(realm, a), now, WINDOW_SECS)
            .await
            .map_err(store_failure)?,
        None => 0,
    };
    let address_over = per_address > 0 && address_count > per_address;
    if count > PER_ACCOUNT || address_over {
        // Once per lock, not once per attempt: a brute-force run must not flood the log.
        if count == PER_ACCOUNT + 1 || (per_address > 0 && address_count == per_address + 1) {
            tracing::warn!(realm, account_attempts = count, address_attempts = address_count, "sign-in locked");
        }
        return Err(throttled());
    }
    Ok(Admission { account_key: key, account_count: count })
}

impl Admission {
    /// A failed attempt: answered after a delay that grows with the failures so far.
    pub async fn failed(self) {
        let over = self.account_count.saturating_sub(FREE_ATTEMPTS);
        if over > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(over.min(8)) * 250)).await;
        }
    }

    /// A successful sign-in clears the account's count.
    pub async fn succeeded(self, authority: &Authority) -> Result<(), OAuthError> {
        authority.store.clear_login_attempts(&self.account_key).await.map_err(store_failure)
    }
}

/// Why a sign-in failed. Callers show one answer for `BadCredentials` whatever the
/// cause (unknown user, wrong password, disabled account, a customer account).
#[derive(Debug)]
pub enum SignInFailure {
    Throttled,
    BadCredentials,
    Unavailable(OAuthError),
}

/// The one sign-in sequence of the login page and the password grant: count the
/// attempt, find the account by username, check the password (against a dummy hash
/// when there is no account), and require an enabled staff account.
pub async fn sign_in(
    authority: &Authority,
    realm: &str,
    username: &str,
    password: &str,
    addr: Option<IpAddr>,
) -> Result<User, SignInFailure> {
    let admission = match admit(authority, realm, username, addr).await {
        Ok(a) => a,
        Err(e) if e.code == crate::error::ErrorCode::InvalidGrant => return Err(SignInFailure::Throttled),
        Err(e) => return Err(SignInFailure::Unavailable(e)),
    };
    let user =
        authority.store.find_user(realm, username).await.map_err(|e| SignInFailure::Unavailable(store_failure(e)))?;
    // Only a username match signs in (find_user also matches ids).
    let user = user.filter(|u| u.username.to_lowercase() == username.to_lowercase());
    let password_ok = authority.passwords.check(password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    match user {
        Some(u) if password_ok && !u.disabled && u.kind == UserKind::Staff => {
            admission.succeeded(authority).await.map_err(SignInFailure::Unavailable)?;
            Ok(u)
        }
        _ => {
            admission.failed().await;
            Err(SignInFailure::BadCredentials)
        }
    }
}
