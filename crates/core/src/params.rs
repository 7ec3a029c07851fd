//! Request parameters as RFC 6749 defines them.

use std::collections::HashSet;

use crate::error::OAuthError;

/// Most parameters one request may carry. No endpoint reads more than a dozen; the cap
/// bounds what one anonymous request can make the server decode and hash.
pub const MAX_PARAMS: usize = 1000;

/// The decoded parameters of one request, each name at most once.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included
    /// more than once", so a repeated name is an error, never a silent pick.
    /// Linear in the number of pairs (a set of the names seen), so a body of many
    /// short names costs no more than one long value of the same size.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = pairs.into_iter().collect();
        if pairs.len() > MAX_PARAMS {
            return Err(too_many_params());
        }
        let mut seen: HashSet<&str> = HashSet::with_capacity(pairs.len());
        for (name, _) in &pairs {
            if !seen.insert(name) {
                return Err(OAuthError::invalid_request(format!("parameter '{name}' was sent more than once")));
            }
        }
        Ok(Self { pairs })
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

pub(crate) fn too_many_params() -> OAuthError {
    OAuthError::invalid_request(format!("the request has more than {MAX_PARAMS} parameters"))
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
    fn more_than_the_cap_of_parameters_is_invalid_request() {
        let names: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}")).collect();
        let at_cap = Params::from_pairs(names[..MAX_PARAMS].iter().map(|n| (n.clone(), "v".to_owned())));
        assert!(at_cap.is_ok());
        let e = Params::from_pairs(names.iter().map(|n| (n.clone(), "v".to_owned()))).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
        assert!(e.description().contains("1000"), "{}", e.description());
    }

    #[test]
    fn a_repeat_far_from_its_first_occurrence_is_found() {
        let mut pairs: Vec<(String, String)> = (0..900).map(|i| (format!("p{i}"), String::new())).collect();
        pairs.push(("p3".to_owned(), "again".to_owned()));
        let e = Params::from_pairs(pairs).unwrap_err();
        assert!(e.description().contains("'p3'"), "{}", e.description());
    }

    #[test]
    fn empty_values_read_as_omitted() {
        let params = p(&[("state", ""), ("scope", "a")]).unwrap();
        assert_eq!(params.get("state"), None);
        assert_eq!(params.get("scope"), Some("a"));
        assert!(params.require("state").is_err());
    }
}
