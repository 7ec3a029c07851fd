//! Secrets as types, randomness and the hashes that stand in for secrets at rest.
//!
//! Architecture Invariant: a raw token or client secret is never stored or logged;
//! only [`sha256`] of an opaque token's verifier and [`SecretHasher::hash`] of a
//! client secret reach the database.

use std::fmt;

use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG failing is not a condition the server can serve through.
    rand::fill(&mut buf).expect("the system random number generator failed");
    buf
}

/// 256 random bits, base64url without padding (43 characters).
pub fn random_token_string() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Appends `bytes` in base64url without padding.
pub fn push_base64url(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Hashes server-generated client secrets with HMAC-SHA256 under a server pepper.
///
/// A generated secret carries 256 bits, so it cannot be brute-forced from its hash and
/// a slow password hash would buy nothing but latency at the token endpoint. Secrets
/// a human chose would need argon2id instead.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl SecretHasher {
    pub fn new(pepper: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, pepper) }
    }

    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.key, secret.as_bytes()).as_ref().to_vec()
    }

    /// Constant-time check of a presented secret against a stored hash.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        constant_time_eq(&self.hash(secret), stored)
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

/// A client secret in the clear: exists only between generation and display, or
/// between the request and its verification.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// A new secret: `pcs_` and 256 random bits.
    pub fn generate() -> Self {
        Self(format!("pcs_{}", random_token_string()))
    }
    pub fn new(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_verifies_only_the_same_secret() {
        let h = SecretHasher::new(b"pepper");
        let s = ClientSecret::generate();
        let stored = h.hash(s.expose());
        assert!(h.verify(s.expose(), &stored));
        assert!(!h.verify("pcs_other", &stored));
        assert!(!SecretHasher::new(b"other pepper").verify(s.expose(), &stored));
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let s = ClientSecret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn generated_secrets_carry_256_bits() {
        let s = ClientSecret::generate();
        assert_eq!(s.expose().len(), 4 + 43);
        assert_ne!(s, ClientSecret::generate());
    }
}
