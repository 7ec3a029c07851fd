//! User passwords: argon2id, parameters stored in the PHC string beside the hash so
//! they can be raised later without invalidating old hashes.
//!
//! Hashing is CPU-heavy by design, so it runs on the blocking pool behind a
//! semaphore: a flood of sign-ins cannot starve the token endpoint's other work
//! (RFC 6819 §4.4.1.11).

use std::sync::{Arc, OnceLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::secret::random_bytes;

/// Longest password accepted; longer input is refused before hashing (hashing cost
/// grows with input, and nobody types this much).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1: the OWASP baseline).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = random_bytes::<16>();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password failed: {e}"))
}

/// Checks `password` against a stored PHC string, with the parameters it records.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// A hash of a random password, for checking attempts on accounts that do not exist,
/// so they take as long as attempts on accounts that do.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::secret::random_token_string()).unwrap_or_default())
}

/// Runs password checks on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
}

impl PasswordChecker {
    pub fn new(permits: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(permits.max(1))) }
    }

    /// True if `password` matches `phc`; with no hash (unknown user, or a user without
    /// a password) the same work is done against a dummy hash and the answer is false.
    pub async fn check(&self, password: &str, phc: Option<&str>) -> bool {
        self.slot().await.check(password, phc).await
    }

    /// Waits for a turn to check a password; what the caller does before checking, it
    /// does while holding the turn (sign-in throttling reserves its counters there).
    pub async fn slot(&self) -> CheckSlot {
        CheckSlot { _permit: self.permits.clone().acquire_owned().await.ok() }
    }
}

/// A turn to run one password check (see [`PasswordChecker::slot`]).
pub struct CheckSlot {
    /// `None` only if the semaphore was closed, which nothing does.
    _permit: Option<OwnedSemaphorePermit>,
}

impl CheckSlot {
    /// [`PasswordChecker::check`], in this turn.
    pub async fn check(self, password: &str, phc: Option<&str>) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        let (password, target, real) = match phc {
            Some(h) => (password.to_owned(), h.to_owned(), true),
            None => (password.to_owned(), dummy_hash().to_owned(), false),
        };
        let matched = tokio::task::spawn_blocking(move || verify(&password, &target)).await.unwrap_or(false);
        matched && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_their_parameters_and_salted() {
        let a = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, hash("correct horse").unwrap());
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horse!", &a));
        assert!(!verify("x", "not a phc string"));
    }

    #[tokio::test]
    async fn unknown_users_never_match() {
        let c = PasswordChecker::new(1);
        assert!(!c.check("anything", None).await);
        let h = hash("pw").unwrap();
        assert!(c.check("pw", Some(&h)).await);
        assert!(!c.check(&"a".repeat(MAX_PASSWORD_LEN + 1), Some(&h)).await);
    }
}
