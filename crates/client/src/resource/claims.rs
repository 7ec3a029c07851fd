//! What a verified token says, the same whether it was a JWT (RFC 9068) or an opaque
//! token introspected (RFC 7662).

use serde::{Deserialize, Deserializer, Serialize};

use crate::introspection::Introspection;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Space-separated on the wire; split here.
    #[serde(default, deserialize_with = "space_separated")]
    pub scope: Vec<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    /// Portcullis: `access`, `refresh`, `api` or `customer`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub authorities: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub test: bool,
}

impl Claims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    pub(crate) fn from_introspection(i: Introspection) -> Self {
        let scope = i.scopes().into_iter().map(str::to_owned).collect();
        Self {
            iss: i.iss,
            sub: i.sub,
            aud: i.aud.unwrap_or_default(),
            client_id: i.client_id,
            scope,
            exp: i.exp,
            iat: i.iat,
            nbf: i.nbf,
            jti: i.jti,
            kind: i.kind,
            permissions: i.permissions.unwrap_or_default(),
            authorities: i.authorities.unwrap_or_default(),
            username: i.username,
            test: i.test.unwrap_or(false),
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

fn space_separated<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    Ok(s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
}
