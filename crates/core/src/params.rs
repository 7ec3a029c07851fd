//! Request parameters as RFC 6749 defines them.

use crate::error::OAuthError;

/// The decoded parameters of one request, each name at most once.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included
    /// more than once", so a repeated name is an error, never a silent pick.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, OAuthError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            if out.iter().any(|(n, _)| *n == name) {
                return Err(OAuthError::invalid_request(format!("parameter '{name}' was sent more than once")));
            }
            out.push((name, value));
        }
        Ok(Self { pairs: out })
    }

    /// The value of `name`. "Parameters sent without a value MUST be treated as if
    /// they were omitted" (RFC 6749 §3.1), so an empty value reads as `None`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("the '{name}' parameter is required")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Result<Params, OAuthError> {
        Params::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn a_repeated_parameter_is_invalid_request_even_with_equal_values() {
        let e = p(&[("grant_type", "x"), ("grant_type", "x")]).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
        assert!(e.description().contains("grant_type"));
    }

    #[test]
    fn empty_values_read_as_omitted() {
        let params = p(&[("state", ""), ("scope", "a")]).unwrap();
        assert_eq!(params.get("state"), None);
        assert_eq!(params.get("scope"), Some("a"));
        assert!(params.require("state").is_err());
    }
}
