//! Validating an authorization request (RFC 6749 §4.1.1, §4.2.1, RFC 7636 §4.3).
//!
//! The order matters: the client and its redirect URI are checked first, and while
//! either is in doubt every error is a page, never a redirect, so the server is never
//! an open redirector (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2). Only then do errors go
//! back to the client.

use super::limits::too_long;
use crate::authority::Authority;
use crate::error::{ErrorCode, OAuthError, store_failure};
use crate::model::{Client, GrantType, Realm};
use crate::pkce;
use crate::redirect::{ClientRedirect, ResponseMode, matches_registered};
use crate::scope::ScopeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    Token,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
            ResponseType::Token => "token",
        }
    }
}

/// `prompt` values (OpenID Connect Core §3.1.2.1), as far as plain OAuth uses them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

impl Prompt {
    pub fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        let mut p = Prompt::default();
        for v in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                _ => return Err("prompt must be none, login or consent"),
            }
        }
        if p.none && (p.login || p.consent) {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(p)
    }

    pub fn to_stored(self) -> Option<String> {
        let mut v = Vec::new();
        if self.none {
            v.push("none");
        }
        if self.login {
            v.push("login");
        }
        if self.consent {
            v.push("consent");
        }
        (!v.is_empty()).then(|| v.join(" "))
    }
}

/// Where and how errors and results go back to the client.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
    pub issuer: String,
}

impl ReplyTo {
    /// A response with `params`, plus `state` and `iss` (RFC 9207 §2).
    pub fn redirect(&self, mut params: Vec<(String, String)>) -> ClientRedirect {
        if let Some(s) = &self.state {
            params.push(("state".into(), s.clone()));
        }
        params.push(("iss".into(), self.issuer.clone()));
        ClientRedirect { redirect_uri: self.redirect_uri.clone(), mode: self.mode, params }
    }

    pub fn error(&self, e: &OAuthError) -> ClientRedirect {
        self.redirect(vec![
            ("error".into(), e.code.as_str().into()),
            ("error_description".into(), e.description().into()),
        ])
    }
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub realm: Realm,
    pub client: Client,
    pub reply: ReplyTo,
    pub redirect_uri_given: bool,
    pub response_type: ResponseType,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Prompt,
}

/// How a request failed.
#[derive(Debug)]
pub enum Rejection {
    /// Shown to the user; nothing is sent to the client.
    Page(OAuthError),
    /// Sent back to the client's verified redirect URI.
    Redirect(ClientRedirect),
}

fn page(d: &'static str) -> Rejection {
    Rejection::Page(OAuthError::invalid_request(d))
}

/// The first value of each name, and the names that came more than once.
fn first_values(pairs: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let mut firsts: Vec<(String, String)> = Vec::new();
    let mut repeated = Vec::new();
    for (k, v) in pairs {
        if firsts.iter().any(|(n, _)| n == k) {
            if !repeated.contains(k) {
                repeated.push(k.clone());
            }
        } else {
            firsts.push((k.clone(), v.clone()));
        }
    }
    (firsts, repeated)
}

pub async fn validate(
    authority: &Authority,
    realm_name: &str,
    pairs: &[(String, String)],
) -> Result<ValidRequest, Rejection> {
    let realm = authority.realm(realm_name).await.map_err(Rejection::Page)?;
    let (firsts, repeated) = first_values(pairs);
    let get = |n: &str| firsts.iter().find(|(k, v)| k == n && !v.is_empty()).map(|(_, v)| v.as_str());

    if repeated.iter().any(|r| r == "client_id" || r == "redirect_uri") {
        return Err(page("client_id and redirect_uri may each be sent only once"));
    }
    if let Some(e) = too_long(pairs, |n| n == "client_id" || n == "redirect_uri") {
        return Err(Rejection::Page(e));
    }
    let client_id = get("client_id").ok_or_else(|| page("the client_id parameter is required"))?;
    let client =
        authority.store.get_client(&realm.name, client_id).await.map_err(|e| Rejection::Page(store_failure(e)))?;
    let client = client
        .filter(|c| !c.disabled)
        .ok_or_else(|| page("the client is unknown or disabled; ask the application's developer"))?;
    let (redirect_uri, redirect_uri_given) = match get("redirect_uri") {
        Some(uri) if matches_registered(&client, uri) => (uri.to_owned(), true),
        Some(_) => return Err(page("the redirect_uri is not registered for this client")),
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => return Err(page("the redirect_uri parameter is required: the client has several")),
    };

    // From here on errors go to the client.
    let response_type = get("response_type");
    let default_mode = if response_type == Some("token") { ResponseMode::Fragment } else { ResponseMode::Query };
    let state = get("state").map(str::to_owned);
    let mut reply = ReplyTo { redirect_uri, mode: default_mode, state: None, issuer: authority.issuer(&realm.name) };
    let fail = |reply: &ReplyTo, code: ErrorCode, d: &'static str| {
        Err(Rejection::Redirect(reply.error(&OAuthError::new(code, d))))
    };
    // An over-long state is not echoed, so that the error redirect stays small.
    if let Some(e) = too_long(pairs, |n| n == "state") {
        return Err(Rejection::Redirect(reply.error(&e)));
    }
    reply.state = state;
    if let Some(e) = too_long(pairs, |n| !matches!(n, "client_id" | "redirect_uri" | "state")) {
        return Err(Rejection::Redirect(reply.error(&e)));
    }
    match get("response_mode").map(ResponseMode::parse) {
        None => {}
        Some(Some(m)) if !(response_type == Some("token") && m == ResponseMode::Query) => reply.mode = m,
        Some(_) => {
            return fail(&reply, ErrorCode::InvalidRequest, "response_mode must be query, fragment or form_post");
        }
    }
    if !repeated.is_empty() {
        return fail(&reply, ErrorCode::InvalidRequest, "a parameter was sent more than once");
    }
    let response_type = match response_type {
        None => return fail(&reply, ErrorCode::InvalidRequest, "the response_type parameter is required"),
        Some("code") => ResponseType::Code,
        Some("token") if realm.allow_implicit => ResponseType::Token,
        Some(_) => {
            return fail(&reply, ErrorCode::UnsupportedResponseType, "response_type must be code");
        }
    };
    let needed = match response_type {
        ResponseType::Code => GrantType::AuthorizationCode,
        ResponseType::Token => GrantType::Implicit,
    };
    if !client.allows_grant(needed) {
        return fail(&reply, ErrorCode::UnauthorizedClient, "this client may not use this response_type");
    }
    let scope = match ScopeSet::resolve(get("scope"), &client.scopes, &client.default_scopes) {
        Ok(s) => s.to_string_list(),
        Err(e) => return Err(Rejection::Redirect(reply.error(&e))),
    };
    let prompt = match Prompt::parse(get("prompt")) {
        Ok(p) => p,
        Err(d) => return fail(&reply, ErrorCode::InvalidRequest, d),
    };

    let (mut code_challenge, mut code_challenge_method) = (None, None);
    if response_type == ResponseType::Code {
        let challenge = get("code_challenge");
        // RFC 7636 §4.3: the method defaults to plain.
        let method = get("code_challenge_method").unwrap_or("plain");
        match challenge {
            None if client.is_public() => {
                return fail(&reply, ErrorCode::InvalidRequest, "code_challenge is required for public clients (PKCE)");
            }
            None if realm.require_pkce => {
                return fail(&reply, ErrorCode::InvalidRequest, "code_challenge is required in this realm (PKCE)");
            }
            None if get("code_challenge_method").is_some() => {
                return fail(&reply, ErrorCode::InvalidRequest, "code_challenge_method without code_challenge");
            }
            None => {}
            Some(c) => {
                let ok = match method {
                    "S256" => pkce::is_valid_s256_challenge(c),
                    "plain" if realm.allow_plain_pkce => pkce::is_valid_verifier(c),
                    "plain" => return fail(&reply, ErrorCode::InvalidRequest, "code_challenge_method must be S256"),
                    _ => return fail(&reply, ErrorCode::InvalidRequest, "code_challenge_method must be S256"),
                };
                if !ok {
                    return fail(&reply, ErrorCode::InvalidRequest, "code_challenge is malformed");
                }
                code_challenge = Some(c.to_owned());
                code_challenge_method = Some(method.to_owned());
            }
        }
    }
    Ok(ValidRequest {
        realm,
        client,
        reply,
        redirect_uri_given,
        response_type,
        scope,
        code_challenge,
        code_challenge_method,
        prompt,
    })
}
