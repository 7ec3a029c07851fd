//! Redirect URIs: the admin's registration rules (`admin::validate_redirect_uri`) and
//! the authorization endpoint's match against the registered ones
//! (`redirect::matches_registered`).

use crate::admin::{MAX_REDIRECT_URI_BYTES, validate_redirect_uri};
use crate::model::{AuthMethod, Client, GrantType};
use crate::redirect::matches_registered;

/// The fuzzer's bytes up to the first `\n` are a registered URI, the rest a requested
/// one. An accepted registration is an absolute URL (as the `url` crate reads it)
/// with no fragment, no user information, no whitespace, wildcard or backslash, and
/// `https`, loopback `http` or a reverse-domain scheme. A request matches only its
/// registered URI exactly, or, for a loopback IP registration, the same URL on another
/// port: same host, path and query, no user information (RFC 8252 §7.3).
pub fn check(data: &[u8]) {
    let (registered, requested) = super::split_two(data);
    let (Ok(registered), Ok(requested)) = (std::str::from_utf8(registered), std::str::from_utf8(requested)) else {
        return;
    };
    for uri in [registered, requested] {
        if validate_redirect_uri(uri).is_ok() {
            check_registrable(uri);
        }
    }
    if matches_registered(&client(registered), requested) && registered != requested {
        check_port_variant(registered, requested);
    }
}

fn check_registrable(raw: &str) {
    assert!(raw.len() <= MAX_REDIRECT_URI_BYTES);
    assert!(!raw.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '#' | '*' | '\\')), "{raw:?}");
    let url = url::Url::parse(raw).expect("an accepted redirect URI parses");
    assert!(url.fragment().is_none());
    assert!(url.username().is_empty() && url.password().is_none(), "{raw:?} has user information");
    match url.scheme() {
        "https" => assert!(url.host().is_some(), "{raw:?}"),
        "http" => assert!(matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")), "{raw:?}"),
        other => assert!(other.contains('.'), "{raw:?}"),
    }
}

fn check_port_variant(registered: &str, requested: &str) {
    let reg = url::Url::parse(registered).expect("a registered loopback URI that matched parses");
    let req = url::Url::parse(requested).expect("a matching loopback URI parses");
    assert_eq!(reg.scheme(), "http");
    assert_eq!(req.scheme(), "http");
    assert!(matches!(reg.host_str(), Some("127.0.0.1" | "[::1]")), "{registered:?}");
    assert_eq!(reg.host(), req.host(), "{registered:?} matched {requested:?}");
    assert_eq!((reg.path(), reg.query(), reg.fragment()), (req.path(), req.query(), req.fragment()));
    assert!(req.username().is_empty() && req.password().is_none(), "{requested:?}");
    // The strings differ only in the port: the rest is character for character equal.
    let without_port = |u: &str| {
        let rest = u.strip_prefix("http://").expect("an http URI");
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        };
        format!("{host}{tail}")
    };
    assert_eq!(without_port(registered), without_port(requested), "{registered:?} matched {requested:?}");
}

fn client(registered: &str) -> Client {
    Client {
        realm: "fuzz".into(),
        client_id: "fuzz".into(),
        name: "fuzz".into(),
        secret_hash: None,
        auth_method: AuthMethod::None,
        grant_types: vec![GrantType::AuthorizationCode],
        redirect_uris: vec![registered.to_owned()],
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
