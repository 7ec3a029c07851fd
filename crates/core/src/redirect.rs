//! Redirect URIs: matching a request against the registered ones, and building the
//! response that goes back to the client.

use crate::model::Client;

/// RFC 9700 §4.1.3: exact string comparison. The one exception is RFC 8252 §7.3: for
/// a registered loopback IP redirect (`http://127.0.0.1/…` or `http://[::1]/…`) any
/// port is accepted, everything else still equal.
pub fn matches_registered(client: &Client, requested: &str) -> bool {
    client.redirect_uris.iter().any(|r| r == requested || loopback_port_variant(r, requested))
}

fn loopback_port_variant(registered: &str, requested: &str) -> bool {
    for host in ["http://127.0.0.1", "http://[::1]"] {
        let (Some(reg_rest), Some(req_rest)) = (registered.strip_prefix(host), requested.strip_prefix(host)) else {
            continue;
        };
        let strip_port = |rest: &str| -> Option<String> {
            match rest.strip_prefix(':') {
                Some(p) => {
                    let digits = p.bytes().take_while(u8::is_ascii_digit).count();
                    // A port is 16 bits: 99999 would send the browser to no URL at all.
                    if digits == 0 || digits > 5 || p[..digits].parse::<u16>().is_err() {
                        return None;
                    }
                    Some(p[digits..].to_owned())
                }
                None => Some(rest.to_owned()),
            }
        };
        if let (Some(a), Some(b)) = (strip_port(reg_rest), strip_port(req_rest)) {
            return a == b && (a.is_empty() || a.starts_with('/') || a.starts_with('?'));
        }
    }
    false
}

/// How the authorization response travels (OAuth 2.0 Multiple Response Types §2.1,
/// Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
        }
    }
}

/// An authorization response or error on its way to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    /// Parameters in order; `state` and `iss` (RFC 9207) included by the builder.
    pub params: Vec<(String, String)>,
}

impl ClientRedirect {
    /// The URL for a 303 (query or fragment mode). A query already on the registered
    /// URI is kept, as RFC 6749 §3.1.2 requires.
    pub fn location(&self) -> String {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        match self.mode {
            ResponseMode::Fragment => format!("{}#{encoded}", self.redirect_uri),
            _ if self.redirect_uri.contains('?') => format!("{}&{encoded}", self.redirect_uri),
            _ => format!("{}?{encoded}", self.redirect_uri),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuthMethod, GrantType};

    fn client(uris: &[&str]) -> Client {
        Client {
            realm: "r".into(),
            client_id: "c".into(),
            name: "c".into(),
            secret_hash: None,
            auth_method: AuthMethod::None,
            grant_types: vec![GrantType::AuthorizationCode],
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            scopes: vec![],
            default_scopes: vec![],
            access_ttl: None,
            refresh_ttl: None,
            resource_server: false,
            disabled: false,
            created_at: 0,
            updated_at: 0,
            revision: 0,
        }
    }

    #[test]
    fn near_misses_never_match() {
        let c = client(&["https://app.example/cb", "https://app.example/cb2?tenant=1"]);
        assert!(matches_registered(&c, "https://app.example/cb"));
        assert!(matches_registered(&c, "https://app.example/cb2?tenant=1"));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/CB",
            "HTTPS://APP.EXAMPLE/cb",
            "http://app.example/cb",
            "https://app.example:444/cb",
            "https://app.example/cb?x=1",
            "https://app.example/cb#x",
            "https://app.example/cb/../evil",
            "https://app.example/cb/%2e%2e/evil",
            "https://app.example/cb%252f..%252fevil",
            "https://app.example/cb/..;/evil",
            "https://app.example.evil.example/cb",
            "https://app.example@evil.example/cb",
            "https://a@b@evil.example/cb",
            "https://app.example\\@evil.example/cb",
            "https://app.example/c\tb",
            "https://app.example/cb%00",
            "https://app.example/cb2?tenant=2",
            "https://app.example/cb2",
        ] {
            assert!(!matches_registered(&c, bad), "{bad}");
        }
    }

    #[test]
    fn loopback_allows_any_port_and_nothing_else() {
        let c = client(&["http://127.0.0.1/cb"]);
        assert!(matches_registered(&c, "http://127.0.0.1:53412/cb"));
        assert!(matches_registered(&c, "http://127.0.0.1/cb"));
        for bad in [
            "http://127.0.0.1:53412/cb?bar=foo",
            "http://localhost:53412/cb",
            "http://127.0.0.1:53412/cb/x",
            "http://127.0.0.1:80@evil.example/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:123456/cb",
            "http://127.0.0.1:65536/cb",
            "http://127.0.0.1:99999/cb",
            "http://[::1]:70000/cb",
        ] {
            assert!(!matches_registered(&c, bad), "{bad}");
        }
        assert!(!matches_registered(&client(&["https://app.example/cb"]), "http://127.0.0.1/cb"));
        assert!(matches_registered(&client(&["http://[::1]/cb"]), "http://[::1]:65535/cb"));
    }

    #[test]
    fn location_keeps_the_registered_query_and_encodes_values() {
        let r = ClientRedirect {
            redirect_uri: "https://app.example/cb?tenant=1".into(),
            mode: ResponseMode::Query,
            params: vec![("code".into(), "a b".into()), ("state".into(), "x&y#z".into())],
        };
        assert_eq!(r.location(), "https://app.example/cb?tenant=1&code=a+b&state=x%26y%23z");
        let f = ClientRedirect { mode: ResponseMode::Fragment, ..r };
        assert!(f.location().starts_with("https://app.example/cb?tenant=1#code="));
    }
}
