//! Opaque tokens: `PREFIX_SELECTOR_VERIFIER`.
//!
//! * `PREFIX` names the kind (`pcat` access, `pcrt` refresh, `pcak` API key, `pcct`
//!   customer), so a leaked token is recognisable by secret scanners;
//! * `SELECTOR` is the row's time-ordered id, 32 hex digits;
//! * `VERIFIER` is 256 random bits in base64url; only its SHA-256 is stored and it is
//!   compared in constant time.

use std::fmt;

use crate::model::TokenKind;
use crate::secret::{constant_time_eq, push_base64url, random_bytes, sha256};

use super::{parse_token_id_hex, token_id_hex, token_id_with};

const PREFIX_LEN: usize = 4;
const SELECTOR_LEN: usize = 32;
const VERIFIER_LEN: usize = 43;
pub const OPAQUE_TOKEN_LEN: usize = PREFIX_LEN + 1 + SELECTOR_LEN + 1 + VERIFIER_LEN;

pub fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "pcat",
        TokenKind::Refresh => "pcrt",
        TokenKind::Api => "pcak",
        TokenKind::Customer => "pcct",
    }
}

fn kind_of_prefix(p: &str) -> Option<TokenKind> {
    TokenKind::ALL.iter().copied().find(|k| prefix(*k) == p)
}

/// A token string as issued: shown to the client once, never stored.
pub struct MintedOpaque {
    pub token: String,
    pub id: [u8; 16],
    pub verifier_hash: [u8; 32],
}

impl fmt::Debug for MintedOpaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedOpaque").field("id", &token_id_hex(&self.id)).finish_non_exhaustive()
    }
}

pub fn mint(kind: TokenKind) -> MintedOpaque {
    mint_prefixed(prefix(kind))
}

/// Authorization codes share the format under their own prefix, so a code is never
/// mistaken for a token nor the reverse.
pub const CODE_PREFIX: &str = "pcac";

pub fn mint_code() -> MintedOpaque {
    mint_prefixed(CODE_PREFIX)
}

fn mint_prefixed(prefix: &str) -> MintedOpaque {
    // One draw for the verifier's 256 bits and the selector's random bits.
    let random = random_bytes::<{ 32 + 8 }>();
    let (verifier, selector_random) = random.split_at(32);
    let id = token_id_with(selector_random.try_into().expect("8 bytes"));
    let mut token = String::with_capacity(OPAQUE_TOKEN_LEN);
    token.push_str(prefix);
    token.push('_');
    token.push_str(uuid::Uuid::from_bytes(id).simple().encode_lower(&mut [0; SELECTOR_LEN]));
    token.push('_');
    let verifier_at = token.len();
    push_base64url(verifier, &mut token);
    let verifier_hash = sha256(&token.as_bytes()[verifier_at..]);
    MintedOpaque { token, id, verifier_hash }
}

/// A presented token split into its parts; says nothing yet about validity.
#[derive(PartialEq, Eq)]
pub struct ParsedOpaque<'a> {
    pub kind: TokenKind,
    pub id: [u8; 16],
    verifier: &'a str,
}

impl fmt::Debug for ParsedOpaque<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedOpaque")
            .field("kind", &self.kind)
            .field("id", &token_id_hex(&self.id))
            .finish_non_exhaustive()
    }
}

impl ParsedOpaque<'_> {
    /// Constant-time comparison of the verifier with the stored hash.
    pub fn verifies(&self, stored_hash: &[u8]) -> bool {
        constant_time_eq(&sha256(self.verifier.as_bytes()), stored_hash)
    }
}

/// Splits a token by position; `None` for anything that is not exactly our format.
pub fn parse(token: &str) -> Option<ParsedOpaque<'_>> {
    let (p, id, verifier) = split(token)?;
    Some(ParsedOpaque { kind: kind_of_prefix(p)?, id, verifier })
}

/// A presented authorization code: its id and a verifier check.
pub struct ParsedCode<'a> {
    pub id: [u8; 16],
    verifier: &'a str,
}

impl ParsedCode<'_> {
    pub fn verifies(&self, stored_hash: &[u8]) -> bool {
        constant_time_eq(&sha256(self.verifier.as_bytes()), stored_hash)
    }
}

pub fn parse_code(code: &str) -> Option<ParsedCode<'_>> {
    let (p, id, verifier) = split(code)?;
    (p == CODE_PREFIX).then_some(ParsedCode { id, verifier })
}

fn split(token: &str) -> Option<(&str, [u8; 16], &str)> {
    if token.len() != OPAQUE_TOKEN_LEN || !token.is_ascii() {
        return None;
    }
    let (p, rest) = token.split_at(PREFIX_LEN);
    let rest = rest.strip_prefix('_')?;
    let (selector, rest) = rest.split_at(SELECTOR_LEN);
    let verifier = rest.strip_prefix('_')?;
    if !verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    // Only lowercase hex, so one token has exactly one spelling.
    if !selector.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    Some((p, parse_token_id_hex(selector)?, verifier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn minted_tokens_parse_back_and_verify() {
        for kind in TokenKind::ALL {
            let m = mint(*kind);
            let p = parse(&m.token).expect("parses");
            assert_eq!(p.kind, *kind);
            assert_eq!(p.id, m.id);
            assert!(p.verifies(&m.verifier_hash));
        }
    }

    #[test]
    fn a_changed_verifier_does_not_verify() {
        let m = mint(TokenKind::Access);
        let mut t = m.token.clone();
        let last = t.pop().unwrap();
        t.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!parse(&t).unwrap().verifies(&m.verifier_hash));
    }

    #[test]
    fn foreign_strings_do_not_parse() {
        let m = mint(TokenKind::Access);
        let upper = m.token[..5].to_owned() + &m.token[5..37].to_uppercase() + &m.token[37..];
        for bad in [
            String::new(),
            "pcat_".into(),
            m.token.replace("pcat", "xxxx"),
            format!("{}=", &m.token[..m.token.len() - 1]),
            format!("{}x", m.token),
            upper,
            "é".repeat(40),
        ] {
            assert!(parse(&bad).is_none() || bad == m.token, "{bad}");
        }
    }

    #[test]
    fn codes_and_tokens_never_stand_in_for_each_other() {
        let code = mint_code();
        assert!(parse(&code.token).is_none());
        assert!(parse_code(&code.token).unwrap().verifies(&code.verifier_hash));
        assert!(parse_code(&mint(TokenKind::Access).token).is_none());
    }

    #[test]
    fn ids_are_time_ordered_and_tokens_unique() {
        let tokens: Vec<_> = (0..1000).map(|_| mint(TokenKind::Access)).collect();
        assert!(tokens.windows(2).all(|w| w[0].id < w[1].id));
        let distinct: HashSet<_> = tokens.iter().map(|t| t.token.clone()).collect();
        assert_eq!(distinct.len(), 1000);
    }
}
