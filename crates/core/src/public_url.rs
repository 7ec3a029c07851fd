//! The public URL, prefix of every realm's issuer (`{public_url}/realms/R`). Every
//! instance on one database must agree on it, or a JWT issued by one fails the `iss`
//! check at another; so it is stored in the database, shared like the pepper.

use crate::store::{Store, StoreError};

/// The `settings` row that holds it.
pub const SETTING: &str = "public_url";

/// `raw` as a public URL (`http(s)://HOST[:PORT][/PATH]`, no query or fragment),
/// without a trailing slash.
pub fn validate(raw: &str) -> Result<String, String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("invalid public URL '{raw}': {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(format!("invalid public URL '{raw}': use http(s)://HOST[:PORT][/PATH]"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Where an instance's public URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--public-url` or its configuration key, for this instance.
    Configured,
    /// The database's, set by an earlier start or by `portcullis public-url set`.
    Stored,
    /// Derived from the bound address (and stored, unless the port was ephemeral).
    BindAddress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub source: Source,
    /// What the database holds, when it differs from `url`.
    pub stored_differs: Option<String>,
}

/// The public URL an instance serves under: the configured one if any; else the one
/// stored in the database; else `from_bind`, stored (first writer wins, so instances
/// starting together agree) when `store_default`, i.e. unless the port is ephemeral.
/// A configured URL is stored too when the database has none, so that instances
/// started later without the flag agree with it.
pub async fn resolve(
    store: &dyn Store,
    configured: Option<&str>,
    from_bind: &str,
    store_default: bool,
) -> Result<Resolved, StoreError> {
    let stored = read(store).await?;
    if let Some(url) = configured {
        let stored = match stored {
            Some(s) => s,
            None => decode(store.put_setting(SETTING, url.as_bytes(), true).await?)?,
        };
        let stored_differs = (stored != url).then_some(stored);
        return Ok(Resolved { url: url.to_owned(), source: Source::Configured, stored_differs });
    }
    if let Some(url) = stored {
        return Ok(Resolved { url, source: Source::Stored, stored_differs: None });
    }
    if !store_default {
        return Ok(Resolved { url: from_bind.to_owned(), source: Source::BindAddress, stored_differs: None });
    }
    let url = decode(store.put_setting(SETTING, from_bind.as_bytes(), true).await?)?;
    let source = if url == from_bind { Source::BindAddress } else { Source::Stored };
    Ok(Resolved { url, source, stored_differs: None })
}

/// The stored public URL, if any.
pub async fn read(store: &dyn Store) -> Result<Option<String>, StoreError> {
    store.setting(SETTING).await?.map(decode).transpose()
}

/// Replaces the stored public URL (`portcullis public-url set`); instances started
/// without `--public-url` use it from their next start.
pub async fn store(store: &dyn Store, raw: &str) -> Result<String, String> {
    let url = validate(raw)?;
    let stored = store.put_setting(SETTING, url.as_bytes(), false).await.map_err(|e| e.to_string())?;
    decode(stored).map_err(|e| e.to_string())
}

fn decode(bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| StoreError::Backend("the stored public URL is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn public_urls_are_http_without_query_fragment_or_credentials() {
        assert_eq!(validate("https://auth.example.com/").unwrap(), "https://auth.example.com");
        assert_eq!(validate("http://127.0.0.1:8080/base").unwrap(), "http://127.0.0.1:8080/base");
        for bad in ["ftp://x", "https://a.example/?q=1", "https://a.example/#f", "https://u:p@a.example", "nonsense"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
