//! Authorization server metadata (RFC 8414), falling back to OpenID Connect discovery.

use serde::Deserialize;

use crate::error::{Error, Result};

/// The parts of the issuer's metadata the library uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    pub issuer: String,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
}

/// Where the metadata of `issuer` may be: RFC 8414 §3.1's form (the well-known path
/// inserted before the issuer's path), the same appended to the issuer (as many
/// servers, Portcullis included, also serve it), and OpenID Connect's.
fn candidates(issuer: &str) -> Result<Vec<String>> {
    let url = reqwest::Url::parse(issuer).map_err(|e| Error::Config(format!("issuer '{issuer}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!("issuer '{issuer}' must be an http(s) URL without query or fragment")));
    }
    let trimmed = issuer.trim_end_matches('/');
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    let mut out = vec![format!("{origin}/.well-known/oauth-authorization-server{path}")];
    if !path.is_empty() {
        out.push(format!("{trimmed}/.well-known/oauth-authorization-server"));
    }
    out.push(format!("{trimmed}/.well-known/openid-configuration"));
    Ok(out)
}

/// Fetches and checks the metadata: its `issuer` must be the one asked for (RFC 8414
/// §3.3), so a server cannot speak for another.
pub(crate) async fn discover(http: &reqwest::Client, issuer: &str) -> Result<ServerMetadata> {
    let mut tried = Vec::new();
    for url in candidates(issuer)? {
        let response = http.get(&url).send().await.map_err(|e| Error::Network(e.without_url().to_string()))?;
        if !response.status().is_success() {
            tried.push(format!("{url}: {}", response.status()));
            continue;
        }
        let metadata: ServerMetadata = response
            .json()
            .await
            .map_err(|e| Error::Discovery(format!("{url} is not a metadata document: {}", e.without_url())))?;
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(Error::Discovery(format!(
                "{url} names issuer '{}', not '{issuer}' (RFC 8414 §3.3)",
                metadata.issuer
            )));
        }
        return Ok(metadata);
    }
    Err(Error::Discovery(format!("no metadata found: {}", tried.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::candidates;

    #[test]
    fn well_known_locations_follow_rfc_8414_first() {
        assert_eq!(
            candidates("https://auth.example/realms/acme").unwrap(),
            [
                "https://auth.example/.well-known/oauth-authorization-server/realms/acme",
                "https://auth.example/realms/acme/.well-known/oauth-authorization-server",
                "https://auth.example/realms/acme/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            candidates("https://auth.example/").unwrap(),
            [
                "https://auth.example/.well-known/oauth-authorization-server",
                "https://auth.example/.well-known/openid-configuration",
            ]
        );
        assert!(candidates("ftp://x").is_err());
        assert!(candidates("https://a.example/?x=1").is_err());
    }
}
