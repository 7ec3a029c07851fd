//! The protocol events an operator counts (tokens issued, refresh token reuse, failed
//! sign-ins, purged rows), as a trait the server implements for `/metrics`. Core has
//! no metrics library: it only says what happened, and by default to no one.
//!
//! Labels are realm names and fixed strings only, never a client id, username or
//! token: realms are created by administrators, so their number stays small, while
//! anything a request names could make a series per attacker's guess.

use crate::model::GrantType;
use crate::store::PurgeReport;

/// Why a sign-in failed, as counted (the reason the user sees is always the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInFailureReason {
    /// Unknown account, wrong password, disabled account, or the wrong kind.
    BadCredentials,
    /// Refused before the password was checked: a limit was reached.
    Throttled,
}

impl SignInFailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::Throttled => "throttled",
        }
    }
}

/// Where protocol events are counted. Every method must be cheap (an atomic add): they
/// run on the token endpoint's path.
pub trait Metrics: Send + Sync + 'static {
    /// A token response was sent (or, implicit, a token put in a redirect).
    fn token_issued(&self, _realm: &str, _grant_type: GrantType) {}
    /// A spent refresh token was presented again and its grant revoked.
    fn refresh_token_reused(&self, _realm: &str) {}
    fn sign_in_failed(&self, _realm: &str, _reason: SignInFailureReason) {}
    /// One purge pass ended: what it deleted, or that it failed.
    fn purge_pass(&self, _outcome: Result<&PurgeReport, ()>) {}
}

/// Counts nothing: what an `Authority` has until `with_metrics`.
pub struct NoMetrics;

impl Metrics for NoMetrics {}
