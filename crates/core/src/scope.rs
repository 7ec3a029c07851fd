//! Scopes (RFC 6749 §3.3).

use std::collections::HashSet;

use crate::error::OAuthError;

/// Longest `scope` parameter accepted; longer values are refused before any parsing
/// work (Keycloak CVE-2026-4634 was a long-scope DoS).
pub const MAX_SCOPE_LEN: usize = 2048;
/// Most distinct scope values one request may name.
pub const MAX_SCOPE_VALUES: usize = 100;

/// A validated, de-duplicated list of scope tokens in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a space-delimited `scope` value. Each token must be
    /// `1*( %x21 / %x23-5B / %x5D-7E )`.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        if raw.len() > MAX_SCOPE_LEN {
            return Err(OAuthError::invalid_scope(format!("scope is longer than {MAX_SCOPE_LEN} characters")));
        }
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)) {
                return Err(OAuthError::invalid_scope(
                    "scope values may only hold printable ASCII other than '\"' and '\\'",
                ));
            }
            if seen.insert(token) {
                if out.len() == MAX_SCOPE_VALUES {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope names more than {MAX_SCOPE_VALUES} distinct values"
                    )));
                }
                out.push(token.to_owned());
            }
        }
        Ok(Self(out))
    }

    pub fn from_vec(v: Vec<String>) -> Self {
        Self(v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The first scope in `self` not in `allowed`, if any.
    pub fn first_outside<'a>(&'a self, allowed: &[String]) -> Option<&'a str> {
        self.iter().find(|s| !allowed.iter().any(|a| a == s))
    }

    /// Requested scopes must all be allowed; no request means the defaults.
    pub fn resolve(requested: Option<&str>, allowed: &[String], defaults: &[String]) -> Result<Self, OAuthError> {
        let Some(raw) = requested else {
            return Ok(Self(defaults.iter().filter(|d| allowed.contains(d)).cloned().collect()));
        };
        let set = Self::parse(raw)?;
        if let Some(bad) = set.first_outside(allowed) {
            return Err(OAuthError::invalid_scope(format!("scope '{bad}' is not allowed for this client")));
        }
        Ok(set)
    }

    pub fn to_string_list(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn requested_scope_must_be_a_subset_of_the_allowed_ones() {
        let allowed = v(&["a", "b"]);
        assert_eq!(ScopeSet::resolve(Some("b a b"), &allowed, &[]).unwrap().to_string_list(), "b a");
        let e = ScopeSet::resolve(Some("a c"), &allowed, &[]).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_scope");
    }

    #[test]
    fn no_requested_scope_means_the_default_scopes() {
        let s = ScopeSet::resolve(None, &v(&["a", "b"]), &v(&["b"])).unwrap();
        assert_eq!(s.to_string_list(), "b");
    }

    #[test]
    fn malformed_or_huge_scopes_are_invalid_scope() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\tb"] {
            assert!(ScopeSet::parse(bad).is_err(), "{bad}");
        }
        assert!(ScopeSet::parse(&"a ".repeat(5000)).is_err());
    }

    #[test]
    fn more_than_the_cap_of_distinct_values_is_invalid_scope() {
        let values = |n: usize| (0..n).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(ScopeSet::parse(&values(MAX_SCOPE_VALUES)).unwrap().iter().count(), MAX_SCOPE_VALUES);
        let e = ScopeSet::parse(&values(MAX_SCOPE_VALUES + 1)).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_scope");
        // Repeats do not count against the cap.
        assert_eq!(ScopeSet::parse(&"a ".repeat(500)).unwrap().iter().count(), 1);
    }
}
