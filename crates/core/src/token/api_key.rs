//! API keys: `pcak_MODE_SELECTOR_VERIFIER_CHECKSUM`, after GitHub's token format.
//!
//! * `pcak` marks an API key and `MODE` is `live` or `test`, so a reader (and a secret
//!   scanner) sees what a leaked string is and which mode it works in;
//! * `SELECTOR` is the key's row id, 32 lowercase hex digits;
//! * `VERIFIER` is 256 random bits in base64url (43 characters); only its SHA-256 is
//!   stored, and it is compared in constant time, so checking a key costs one hash,
//!   like a client secret (no slow hash: the key carries 256 bits);
//! * `CHECKSUM` is the CRC-32 (ISO-HDLC, as zlib's) of everything before it, in 6 base62
//!   digits, so a scanner (and this parser) rejects a mistyped or made-up string
//!   without a database lookup. It is no secret and proves nothing about validity.

use std::fmt;

use crate::secret::{constant_time_eq, push_base64url, random_bytes, sha256};

use super::{parse_token_id_hex, token_id_hex, token_id_with};

pub const PREFIX: &str = "pcak";
const LIVE: &str = "live";
const TEST: &str = "test";
const SELECTOR_LEN: usize = 32;
const VERIFIER_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// `pcak_live_` + selector + `_` + verifier + `_` + checksum.
pub const API_KEY_LEN: usize = PREFIX.len() + 1 + LIVE.len() + 1 + SELECTOR_LEN + 1 + VERIFIER_LEN + 1 + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A key as minted: the string is shown once, never stored.
pub struct MintedApiKey {
    pub key: String,
    pub id: [u8; 16],
    pub verifier_hash: [u8; 32],
}

impl fmt::Debug for MintedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedApiKey").field("id", &token_id_hex(&self.id)).finish_non_exhaustive()
    }
}

pub fn mint(test: bool) -> MintedApiKey {
    let random = random_bytes::<{ 32 + 8 }>();
    let (verifier, selector_random) = random.split_at(32);
    let id = token_id_with(selector_random.try_into().expect("8 bytes"));
    let mut key = String::with_capacity(API_KEY_LEN);
    key.push_str(PREFIX);
    key.push('_');
    key.push_str(if test { TEST } else { LIVE });
    key.push('_');
    key.push_str(&token_id_hex(&id));
    key.push('_');
    let verifier_at = key.len();
    push_base64url(verifier, &mut key);
    let verifier_hash = sha256(&key.as_bytes()[verifier_at..]);
    key.push('_');
    let checksum = checksum(&key[..key.len() - 1]);
    key.push_str(&checksum);
    MintedApiKey { key, id, verifier_hash }
}

/// CRC-32 of `body` in exactly six base62 digits (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut n = CRC32.checksum(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 is ASCII")
}

/// A presented key whose format and checksum are right; says nothing yet about
/// whether it exists.
#[derive(PartialEq, Eq)]
pub struct ParsedApiKey<'a> {
    pub id: [u8; 16],
    pub test: bool,
    verifier: &'a str,
}

impl fmt::Debug for ParsedApiKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedApiKey")
            .field("id", &token_id_hex(&self.id))
            .field("test", &self.test)
            .finish_non_exhaustive()
    }
}

impl ParsedApiKey<'_> {
    /// Constant-time comparison of the verifier with the stored hash.
    pub fn verifies(&self, stored_hash: &[u8]) -> bool {
        constant_time_eq(&sha256(self.verifier.as_bytes()), stored_hash)
    }
}

/// `None` for anything that is not exactly the format with a matching checksum.
pub fn parse(key: &str) -> Option<ParsedApiKey<'_>> {
    if key.len() != API_KEY_LEN || !key.is_ascii() {
        return None;
    }
    let (body, sum) = key.split_at(API_KEY_LEN - CHECKSUM_LEN);
    let body = body.strip_suffix('_')?;
    if checksum(body) != sum {
        return None;
    }
    let rest = body.strip_prefix(PREFIX)?.strip_prefix('_')?;
    let (mode, rest) = rest.split_at(LIVE.len());
    let test = match mode {
        LIVE => false,
        TEST => true,
        _ => return None,
    };
    let rest = rest.strip_prefix('_')?;
    let (selector, rest) = rest.split_at(SELECTOR_LEN);
    let verifier = rest.strip_prefix('_')?;
    // Only lowercase hex, so one key has exactly one spelling.
    if !selector.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    if !verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    Some(ParsedApiKey { id: parse_token_id_hex(selector)?, test, verifier })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_back_and_verify() {
        for test in [false, true] {
            let m = mint(test);
            assert_eq!(m.key.len(), API_KEY_LEN);
            assert!(m.key.starts_with(if test { "pcak_test_" } else { "pcak_live_" }), "{}", m.key);
            let p = parse(&m.key).expect("parses");
            assert_eq!((p.id, p.test), (m.id, test));
            assert!(p.verifies(&m.verifier_hash));
        }
    }

    #[test]
    fn every_single_character_change_is_caught_by_the_checksum() {
        let m = mint(false);
        for at in 0..m.key.len() {
            let mut bytes = m.key.clone().into_bytes();
            bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(parse(&changed).is_none(), "a change at {at} parsed: {changed}");
        }
    }

    #[test]
    fn the_mode_cannot_be_switched_without_breaking_the_checksum() {
        let m = mint(false);
        assert!(parse(&m.key.replacen("_live_", "_test_", 1)).is_none());
    }

    #[test]
    fn a_right_checksum_on_a_wrong_verifier_parses_but_does_not_verify() {
        let m = mint(true);
        let mut body = m.key[..API_KEY_LEN - CHECKSUM_LEN - 1].to_owned();
        let last = body.pop().unwrap();
        body.push(if last == 'A' { 'B' } else { 'A' });
        let forged = format!("{body}_{}", checksum(&body));
        assert!(!parse(&forged).expect("well-formed").verifies(&m.verifier_hash));
    }

    #[test]
    fn foreign_strings_do_not_parse() {
        let m = mint(false);
        for bad in [
            String::new(),
            "pcak_live_".into(),
            m.key[..API_KEY_LEN - 1].to_owned(),
            format!("{}0", m.key),
            m.key.to_uppercase(),
            super::super::opaque::mint(crate::model::TokenKind::Api).token,
            "é".repeat(API_KEY_LEN / 2),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn checksums_are_six_base62_digits() {
        assert_eq!(checksum(""), "000000");
        // CRC-32 of "123456789" is 0xCBF43926 (the catalogue's check value).
        assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum("123456789").len(), 6);
        assert!(checksum("abc").bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
