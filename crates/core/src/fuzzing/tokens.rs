//! Token strings: opaque access, refresh, API-key and customer tokens and codes
//! (`token::opaque`), API keys with their checksum (`token::api_key`), admin tokens
//! (`admin_token`), token ids.

use crate::admin_token::{ADMIN_TOKEN_LEN, ADMIN_TOKEN_PREFIX, AdminTokenRefusal, parse_header};
use crate::token::opaque::{CODE_PREFIX, OPAQUE_TOKEN_LEN, parse, parse_code, prefix};
use crate::token::{api_key, parse_token_id_hex, token_id_hex};

/// A string parses as at most one kind of credential, and only in its one canonical
/// spelling: its prefix, its id as 32 lowercase hex digits, a base64url verifier,
/// and for an API key a checksum that matches. The bytes are tried as a token and as
/// an `Authorization` header.
pub fn check(data: &[u8]) {
    check_admin_header(data);
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut kinds = 0;

    if let Some(p) = parse(s) {
        kinds += 1;
        assert_eq!(s.len(), OPAQUE_TOKEN_LEN);
        assert_eq!(&s[..4], prefix(p.kind));
        assert_eq!(&s[5..37], token_id_hex(&p.id), "not the canonical spelling of the id");
        assert_base64url(&s[38..]);
    }
    if let Some(c) = parse_code(s) {
        kinds += 1;
        assert!(s.starts_with(CODE_PREFIX) && s.len() == OPAQUE_TOKEN_LEN);
        assert_eq!(&s[5..37], token_id_hex(&c.id));
    }
    if let Some(k) = api_key::parse(s) {
        kinds += 1;
        assert_eq!(s.len(), api_key::API_KEY_LEN);
        assert_eq!(&s[..10], if k.test { "pcak_test_" } else { "pcak_live_" });
        assert_eq!(&s[10..42], token_id_hex(&k.id));
        assert_base64url(&s[43..86]);
        // A one-character change anywhere must break the checksum.
        let mut changed = s.as_bytes().to_vec();
        changed[0] = b'q';
        assert!(api_key::parse(std::str::from_utf8(&changed).unwrap()).is_none());
    }
    let bearer = format!("Bearer {s}");
    if let Ok(t) = parse_header(Some(bearer.as_bytes())) {
        kinds += 1;
        // RFC 7235 §2.1: `1*SP` between the scheme and the token.
        let token = s.trim_start_matches(' ');
        assert_eq!(token.len(), ADMIN_TOKEN_LEN);
        assert!(token.starts_with(ADMIN_TOKEN_PREFIX));
        assert_eq!(&token[6..38], token_id_hex(&t.id));
        assert_base64url(&token[39..]);
    }
    assert!(kinds <= 1, "{s:?} parses as {kinds} kinds of credential");

    if let Some(id) = parse_token_id_hex(s) {
        assert_eq!(s.len(), 32);
        assert_eq!(parse_token_id_hex(&token_id_hex(&id)), Some(id));
    }
}

fn check_admin_header(header: &[u8]) {
    match parse_header(Some(header)) {
        Ok(t) => {
            let text = std::str::from_utf8(header).expect("an accepted header is UTF-8");
            assert!(text.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")), "{text:?}");
            assert!(text[text.len() - ADMIN_TOKEN_LEN..].starts_with(ADMIN_TOKEN_PREFIX), "{text:?}");
            assert!(text.contains(&token_id_hex(&t.id)));
        }
        Err(r) => assert_ne!(r, AdminTokenRefusal::Missing),
    }
    assert_eq!(parse_header(None).unwrap_err(), AdminTokenRefusal::Missing);
}

fn assert_base64url(s: &str) {
    assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s:?}");
}
