//! PKCE (RFC 7636).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::{constant_time_eq, sha256};

/// `unreserved` characters, 43 to 128 of them (RFC 7636 §4.1); also the syntax of a
/// `plain` challenge.
pub fn is_valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge is BASE64URL(SHA256(verifier)): exactly 43 characters.
pub fn is_valid_s256_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

/// Checks a verifier against the stored challenge and method (RFC 7636 §4.6).
pub fn verify(verifier: &str, challenge: &str, method: &str) -> bool {
    if !is_valid_verifier(verifier) {
        return false;
    }
    match method {
        "S256" => constant_time_eq(s256(verifier).as_bytes(), challenge.as_bytes()),
        "plain" => constant_time_eq(verifier.as_bytes(), challenge.as_bytes()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256(v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verify(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256"));
        assert!(!verify(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", "S256"));
    }

    #[test]
    fn verifier_syntax() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!verify(&"a".repeat(43), &"a".repeat(43), "S512"));
    }
}
