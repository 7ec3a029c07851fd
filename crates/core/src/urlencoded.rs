//! `application/x-www-form-urlencoded` decoding (RFC 6749 Appendix B), strict: a
//! malformed escape or invalid UTF-8 is an error, never a silent replacement.

use percent_encoding::percent_decode;

use crate::error::OAuthError;
use crate::params::Params;

/// Decodes one name or value: `+` is a space, `%XX` a byte, the result UTF-8.
pub fn decode_component(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    // Most names and values (grant types, ids, tokens) hold nothing to decode: one scan
    // and one copy, instead of the three copies and four scans below.
    if !bytes.iter().any(|b| matches!(b, b'%' | b'+' | b'\0')) {
        return Ok(raw.to_owned());
    }
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("a '%' escape is cut short")?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err("a '%' is not followed by two hex digits");
            }
        }
    }
    let spaced = raw.replace('+', " ");
    let decoded = percent_decode(spaced.as_bytes()).decode_utf8().map_err(|_| "a value is not valid UTF-8")?;
    if decoded.contains('\0') {
        return Err("a value contains a NUL character");
    }
    Ok(decoded.into_owned())
}

/// Parses a form body into [`Params`], refusing repeated names.
pub fn parse_form(body: &[u8]) -> Result<Params, OAuthError> {
    Params::from_pairs(parse_pairs(body)?)
}

/// Parses a form body or query string into its pairs, in order, repeats kept.
pub fn parse_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let text =
        std::str::from_utf8(body).map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))?;
    let mut pairs = Vec::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        // Refused before decoding the rest: the cap bounds the work, not just the result.
        if pairs.len() == crate::params::MAX_PARAMS {
            return Err(crate::params::too_many_params());
        }
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let bad = |why: &str| OAuthError::invalid_request(format!("malformed form body: {why}"));
        pairs.push((decode_component(name).map_err(bad)?, decode_component(value).map_err(bad)?));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_escapes() {
        let p = parse_form(b"scope=a+b%20c&client_id=%C3%A9").unwrap();
        assert_eq!(p.get("scope"), Some("a b c"));
        assert_eq!(p.get("client_id"), Some("\u{e9}"));
    }

    /// The one-copy path for values with nothing to decode gives what decoding would.
    #[test]
    fn plain_values_come_back_as_sent() {
        let p = parse_form(b"grant_type=client_credentials&token=pcat_0190aa_x-Y.z~&scope=").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("token"), Some("pcat_0190aa_x-Y.z~"));
        assert_eq!(p.get("scope"), None, "an empty value is an absent one (RFC 6749 §3.1)");
        assert_eq!(decode_component(""), Ok(String::new()));
        assert_eq!(decode_component("\u{e9}t\u{e9}"), Ok("\u{e9}t\u{e9}".to_owned()));
    }

    #[test]
    fn malformed_encodings_are_invalid_request() {
        for bad in [&b"a=%zz"[..], b"a=%", b"a=%4", b"a=%FF", b"a=%00", b"a=\0", b"a\0=1", b"a=\xff", b"a=1&a=2"] {
            let e = parse_form(bad).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_request", "{bad:?}");
        }
    }
}
