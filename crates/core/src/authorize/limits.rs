//! Bounds on what the authorization endpoint stores for a browser that has not signed
//! in: every parameter that is stored, echoed or compared has a length limit (longer
//! is refused, never truncated), and pending requests are capped per browser session
//! and per client address (the caps are settings of the `Authority`, whose defaults
//! are `authority::DEFAULT_PENDING_PER_SESSION` and `DEFAULT_PENDING_PER_ADDRESS`).

use crate::error::OAuthError;

/// The longest value accepted, in bytes, for each authorization request parameter that
/// is stored, echoed or compared. `redirect_uri` matches the longest one an admin can
/// register; `state` is echoed byte-exact up to its limit.
pub const PARAM_LIMITS: &[(&str, usize)] = &[
    ("client_id", 255),
    ("redirect_uri", crate::admin::MAX_REDIRECT_URI_BYTES),
    ("state", 4096),
    ("scope", crate::admin::MAX_SCOPES_BYTES),
    ("code_challenge", 128),
    ("code_challenge_method", 16),
    ("nonce", 512),
    ("login_hint", 255),
    ("prompt", 64),
    ("response_type", 64),
    ("response_mode", 64),
];

/// `invalid_request` naming the first parameter among `pairs` selected by `which` that
/// is over its limit.
pub fn too_long(pairs: &[(String, String)], which: impl Fn(&str) -> bool) -> Option<OAuthError> {
    pairs.iter().filter(|(name, _)| which(name)).find_map(|(name, value)| {
        let (_, limit) = PARAM_LIMITS.iter().find(|(n, _)| n == name)?;
        (value.len() > *limit).then(|| OAuthError::invalid_request(format!("{name} is longer than {limit} bytes")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_in_bytes_and_inclusive() {
        let at = |v: String| vec![("state".to_owned(), v)];
        assert!(too_long(&at("é".repeat(2048)), |_| true).is_none());
        let e = too_long(&at("é".repeat(2048) + "x"), |_| true).unwrap();
        assert_eq!(e.description(), "state is longer than 4096 bytes");
        assert!(too_long(&at("x".repeat(5000)), |n| n != "state").is_none());
    }
}
