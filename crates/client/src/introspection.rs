//! An introspection answer (RFC 7662 §2.2) with the Portcullis members.

use serde::{Deserialize, Deserializer, Serialize};

/// What the server said about a token. An inactive token has `active: false` and, from
/// a conforming server, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub sub: Option<String>,
    /// A string or an array on the wire (RFC 7519 §4.1.3); always a list here.
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Option<Vec<String>>,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub jti: Option<String>,
    /// Portcullis: `access`, `refresh`, `api` or `customer`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub authorities: Option<Vec<String>>,
    #[serde(default)]
    pub test: Option<bool>,
}

impl Introspection {
    /// The granted scopes, split.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope.as_deref().map(|s| s.split(' ').filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    }))
}

#[cfg(test)]
mod tests {
    use super::Introspection;

    #[test]
    fn audiences_read_as_a_list_whatever_their_form() {
        let one: Introspection = serde_json::from_str(r#"{"active":true,"aud":"a"}"#).unwrap();
        assert_eq!(one.aud, Some(vec!["a".to_owned()]));
        let many: Introspection = serde_json::from_str(r#"{"active":true,"aud":["a","b"],"extra":1}"#).unwrap();
        assert_eq!(many.aud.unwrap().len(), 2);
        let inactive: Introspection = serde_json::from_str(r#"{"active":false}"#).unwrap();
        assert!(!inactive.active && inactive.aud.is_none());
    }
}
