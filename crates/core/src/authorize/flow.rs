//! The browser side of the code and implicit flows: a session cookie, the login
//! page, the consent page, and the response to the client.
//!
//! Every form acts on the stored [`AuthorizationRequest`], never on hidden fields,
//! and is accepted only from the browser session the request was bound to and with
//! the request's CSRF token (RFC 6749 §10.12).

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::request::{Prompt, Rejection, ResponseType, ValidRequest, validate};
use crate::address::address_key;
use crate::authority::{Authority, TokenClaims};
use crate::error::{ErrorCode, OAuthError, store_failure};
use crate::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, GrantType, Realm, TokenKind, User, UserKind,
};
use crate::params::Params;
use crate::redirect::{ClientRedirect, ResponseMode};
use crate::secret::{constant_time_eq, random_token_string, sha256};
use crate::store::StoreError;
use crate::throttle::{self, SignInFailure};
use crate::token::{new_token_id, opaque, parse_token_id_hex, token_id_hex};

/// How long a browser session lasts.
pub const SESSION_TTL: i64 = 8 * 3600;
/// How long a user has to sign in and approve.
pub const REQUEST_TTL: i64 = 10 * 60;

/// A session cookie to set: its value and lifetime.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub max_age: i64,
}

pub struct LoginPage {
    pub request_id: String,
    pub csrf: String,
    pub client_name: String,
    pub username: String,
    pub error: Option<String>,
}

pub struct ConsentPage {
    pub request_id: String,
    pub csrf: String,
    pub client_name: String,
    pub username: String,
    pub scopes: Vec<String>,
}

/// What the server shows or does next.
pub enum Step {
    Login(LoginPage),
    Consent(ConsentPage),
    /// 303 to a page of ours (after a successful form post).
    SeeOther(String),
    /// The final response to the client.
    Client(ClientRedirect),
    /// An error shown to the user, never redirected.
    ErrorPage(OAuthError),
    /// A form that did not come from this browser's flow.
    Forbidden(&'static str),
}

pub struct Outcome {
    pub step: Step,
    pub set_session: Option<NewSession>,
}

impl From<Step> for Outcome {
    fn from(step: Step) -> Self {
        Outcome { step, set_session: None }
    }
}

fn page_error(e: OAuthError) -> Outcome {
    Step::ErrorPage(e).into()
}

// Session cookies: `SECRET.TAG`, where TAG is an HMAC of the secret under the server
// pepper, so forged cookies are refused without a database read. Only SHA-256 of
// SECRET is stored.

fn cookie_tag(authority: &Authority, secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(&authority.hasher.hash(&format!("session:{secret}"))[..16])
}

fn cookie_for(authority: &Authority, secret: &str) -> String {
    format!("{secret}.{}", cookie_tag(authority, secret))
}

/// The anti-forgery token of a request moved to a new session at sign-in: derived
/// from the session cookie, so the consent page can show it again without it ever
/// travelling in a URL, and no one without the cookie can compute it.
fn csrf_for(authority: &Authority, cookie: &str, request_id: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(authority.hasher.hash(&format!("csrf:{cookie}:{}", token_id_hex(request_id))))
}

fn session_hash_of(authority: &Authority, cookie: &str) -> Option<[u8; 32]> {
    let (secret, tag) = cookie.split_once('.')?;
    if secret.len() != 43 || !constant_time_eq(tag.as_bytes(), cookie_tag(authority, secret).as_bytes()) {
        return None;
    }
    Some(sha256(secret.as_bytes()))
}

async fn load_session(
    authority: &Authority,
    realm: &str,
    cookie: Option<&str>,
) -> Result<Option<BrowserSession>, OAuthError> {
    let Some(hash) = cookie.and_then(|c| session_hash_of(authority, c)) else { return Ok(None) };
    let s = authority.store.get_session(&hash, authority.now()).await.map_err(store_failure)?;
    Ok(s.filter(|s| s.realm == realm))
}

async fn new_session(
    authority: &Authority,
    realm: &str,
    user_id: Option<&str>,
) -> Result<(BrowserSession, NewSession), OAuthError> {
    let (session, cookie) = mint_session(authority, realm, user_id);
    authority.store.create_session(&session).await.map_err(store_failure)?;
    Ok((session, cookie))
}

/// A new session, not yet stored.
fn mint_session(authority: &Authority, realm: &str, user_id: Option<&str>) -> (BrowserSession, NewSession) {
    let now = authority.now();
    let secret = random_token_string();
    let session = BrowserSession {
        id_hash: sha256(secret.as_bytes()),
        realm: realm.to_owned(),
        user_id: user_id.map(str::to_owned),
        authenticated_at: user_id.map(|_| now),
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    (session, NewSession { cookie: cookie_for(authority, &secret), max_age: SESSION_TTL })
}

/// Stores the request for `session` (and the session too when `new_session`) and
/// returns it with its CSRF token in the clear; `None`, nothing stored, when `addr` has
/// too many pending requests.
async fn store_request(
    authority: &Authority,
    v: &ValidRequest,
    session: &BrowserSession,
    new_session: bool,
    addr: Option<IpAddr>,
) -> Result<Option<(AuthorizationRequest, String)>, OAuthError> {
    let (req, csrf) = new_request(authority, v, session, addr);
    let now = req.created_at;
    let stored = authority
        .store
        .create_capped_authorization_request(new_session.then_some(session), &req, now, authority.pending_limits())
        .await
        .map_err(store_failure)?;
    Ok(stored.then_some((req, csrf)))
}

/// The request `v` of `session`, not stored, with its CSRF token in the clear.
fn new_request(
    authority: &Authority,
    v: &ValidRequest,
    session: &BrowserSession,
    addr: Option<IpAddr>,
) -> (AuthorizationRequest, String) {
    let now = authority.now();
    let csrf = random_token_string();
    let req = AuthorizationRequest {
        id: new_token_id(),
        realm: v.realm.name.clone(),
        session_hash: session.id_hash,
        client_id: v.client.client_id.clone(),
        redirect_uri: v.reply.redirect_uri.clone(),
        redirect_uri_given: v.redirect_uri_given,
        response_type: v.response_type.as_str().to_owned(),
        response_mode: v.reply.mode.as_str().to_owned(),
        scope: v.scope.clone(),
        state: v.reply.state.clone(),
        code_challenge: v.code_challenge.clone(),
        code_challenge_method: v.code_challenge_method.clone(),
        prompt: v.prompt.to_stored(),
        csrf_hash: sha256(csrf.as_bytes()),
        created_at: now,
        expires_at: now + REQUEST_TTL,
        client_addr: addr.map(address_key),
    };
    (req, csrf)
}

/// The reply-to of a stored request.
fn reply_of(authority: &Authority, req: &AuthorizationRequest) -> super::request::ReplyTo {
    super::request::ReplyTo {
        redirect_uri: req.redirect_uri.clone(),
        mode: ResponseMode::parse(&req.response_mode).unwrap_or(ResponseMode::Query),
        state: req.state.clone(),
        issuer: authority.issuer(&req.realm),
    }
}

async fn signed_in_user(authority: &Authority, session: &BrowserSession) -> Result<Option<User>, OAuthError> {
    let Some(id) = &session.user_id else { return Ok(None) };
    let user = authority.store.get_user(&session.realm, id).await.map_err(store_failure)?;
    Ok(user.filter(|u| !u.disabled && u.kind == UserKind::Staff))
}

/// `GET /oauth/authorize`.
pub async fn authorize(
    authority: &Authority,
    realm: &str,
    pairs: &[(String, String)],
    cookie: Option<&str>,
    addr: Option<IpAddr>,
) -> Result<Outcome, OAuthError> {
    let v = match validate(authority, realm, pairs).await {
        Ok(v) => v,
        Err(Rejection::Page(e)) => return Ok(page_error(e)),
        Err(Rejection::Redirect(r)) => return Ok(Step::Client(r).into()),
    };
    let session = load_session(authority, &v.realm.name, cookie).await?;
    let user = match &session {
        Some(s) => signed_in_user(authority, s).await?,
        None => None,
    };
    // Read only where it decides something: `prompt=none`, or a sign-in that may skip
    // the pages (`prompt=login` shows the login page whatever was approved).
    let approved = match &user {
        Some(user) if v.prompt.none || !v.prompt.login => {
            consent_covers(authority, &v.realm, &v.client, user, &v.scope, v.prompt).await?
        }
        _ => false,
    };
    if v.prompt.none {
        if user.is_none() {
            let e = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            return Ok(Step::Client(v.reply.error(&e)).into());
        }
        if !approved {
            let e = OAuthError::new(ErrorCode::ConsentRequired, "the user has not approved this client");
            return Ok(Step::Client(v.reply.error(&e)).into());
        }
    }
    // Signed in, and every scope asked approved before: no page to show, so no
    // pending request is stored (nor counted against the caps), and the answer goes
    // back at once. A browser signing in to many apps in a row then costs a grant and
    // a code each, not four more statements on the pending requests.
    if let (Some(session), Some(user)) = (&session, &user)
        && approved
        && !v.prompt.login
    {
        let (req, _) = new_request(authority, &v, session, addr);
        let step = issue(authority, &v.realm, &v.client, &req, user, RequestKept::No).await?;
        return Ok(Outcome { step, set_session: None });
    }
    let (session, set_session) = match session {
        Some(s) => (s, None),
        None => {
            let (s, n) = mint_session(authority, &v.realm.name, None);
            (s, Some(n))
        }
    };
    let Some((req, csrf)) = store_request(authority, &v, &session, set_session.is_some(), addr).await? else {
        return Ok(page_error(OAuthError::new(
            ErrorCode::TooManyRequests,
            "too many sign-in requests are pending from your network; finish or close some, or try again later",
        )));
    };
    let step = match user {
        // Not approved before: an approval would have been answered above.
        Some(user) if !v.prompt.login => consent_page_for(&v.client, &req, csrf, &user),
        _ => Step::Login(LoginPage {
            request_id: token_id_hex(&req.id),
            csrf,
            client_name: v.client.name.clone(),
            username: String::new(),
            error: None,
        }),
    };
    Ok(Outcome { step, set_session })
}

/// Whether an earlier approval covers `scope`. Public clients are asked every time
/// (RFC 8252 §8.6: their identity cannot be verified).
async fn consent_covers(
    authority: &Authority,
    realm: &Realm,
    client: &Client,
    user: &User,
    scope: &str,
    prompt: Prompt,
) -> Result<bool, OAuthError> {
    if prompt.consent || client.is_public() {
        return Ok(false);
    }
    let approved =
        authority.store.get_consent(&realm.name, &user.id, &client.client_id).await.map_err(store_failure)?;
    let Some(approved) = approved else { return Ok(false) };
    Ok(scope.split(' ').filter(|s| !s.is_empty()).all(|s| approved.split(' ').any(|a| a == s)))
}

async fn consent_step(
    authority: &Authority,
    realm: &Realm,
    client: &Client,
    req: &AuthorizationRequest,
    csrf: String,
    user: &User,
) -> Result<Step, OAuthError> {
    let prompt = Prompt::parse(req.prompt.as_deref()).unwrap_or_default();
    if consent_covers(authority, realm, client, user, &req.scope, prompt).await? {
        return issue(authority, realm, client, req, user, RequestKept::Yes).await;
    }
    Ok(consent_page_for(client, req, csrf, user))
}

/// The consent page asking `user` to approve `req` for `client`.
fn consent_page_for(client: &Client, req: &AuthorizationRequest, csrf: String, user: &User) -> Step {
    Step::Consent(ConsentPage {
        request_id: token_id_hex(&req.id),
        csrf,
        client_name: client.name.clone(),
        username: user.username.clone(),
        scopes: req.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    })
}

/// Loads the request a form refers to and checks it came from this browser's flow
/// with the request's anti-forgery token `csrf`.
async fn form_request(
    authority: &Authority,
    realm: &str,
    params: &Params,
    cookie: Option<&str>,
    csrf: &str,
) -> Result<Result<(AuthorizationRequest, BrowserSession), Outcome>, OAuthError> {
    let expired = || {
        page_error(OAuthError::invalid_request(
            "this sign-in request has expired or was already completed; start again from the application",
        ))
    };
    let Some(id) = params.get("request").and_then(parse_token_id_hex) else { return Ok(Err(expired())) };
    let Some(req) = authority.store.get_authorization_request(&id, authority.now()).await.map_err(store_failure)?
    else {
        return Ok(Err(expired()));
    };
    if req.realm != realm {
        return Ok(Err(expired()));
    }
    let session = load_session(authority, realm, cookie).await?;
    let Some(session) = session.filter(|s| constant_time_eq(&s.id_hash, &req.session_hash)) else {
        return Ok(Err(Step::Forbidden("this form does not belong to your browser session").into()));
    };
    let csrf_ok = constant_time_eq(&sha256(csrf.as_bytes()), &req.csrf_hash);
    if !csrf_ok {
        return Ok(Err(Step::Forbidden("the form's anti-forgery token is missing or wrong").into()));
    }
    Ok(Ok((req, session)))
}

async fn request_client(
    authority: &Authority,
    req: &AuthorizationRequest,
) -> Result<Option<(Realm, Client)>, OAuthError> {
    let realm = authority.realm(&req.realm).await?;
    let client = authority.store.get_client(&req.realm, &req.client_id).await.map_err(store_failure)?;
    Ok(client.filter(|c| !c.disabled).map(|c| (realm, c)))
}

/// `POST` of the login form.
pub async fn submit_login(
    authority: &Authority,
    realm: &str,
    params: &Params,
    cookie: Option<&str>,
    addr: Option<IpAddr>,
) -> Result<Outcome, OAuthError> {
    let csrf = params.get("csrf").unwrap_or("");
    let (req, session) = match form_request(authority, realm, params, cookie, csrf).await? {
        Ok(x) => x,
        Err(outcome) => return Ok(outcome),
    };
    let Some((realm, client)) = request_client(authority, &req).await? else {
        return Ok(page_error(OAuthError::invalid_request("the client is unknown or disabled")));
    };
    let username = params.get("username").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    let again = |error: &str| {
        Step::Login(LoginPage {
            request_id: token_id_hex(&req.id),
            csrf: params.get("csrf").unwrap_or("").to_owned(),
            client_name: client.name.clone(),
            username: username.to_owned(),
            error: Some(error.to_owned()),
        })
    };
    if username.is_empty() || password.is_empty() {
        return Ok(again("Enter your username and password.").into());
    }
    let user = match authority.sign_in(&realm.name, &client.client_id, username, password, addr, UserKind::Staff).await
    {
        Ok(u) => u,
        Err(SignInFailure::Throttled) => {
            return Ok(again("Too many failed sign-ins. Wait a few minutes and try again.").into());
        }
        Err(SignInFailure::UsernameTooLong) => {
            return Ok(again(&format!("Usernames are at most {} bytes.", throttle::MAX_USERNAME_LEN)).into());
        }
        Err(SignInFailure::BadCredentials) => return Ok(again("Invalid username or password.").into()),
        Err(SignInFailure::Unavailable(e)) => return Err(e),
    };
    // A new session id at sign-in, so a planted cookie never becomes an authenticated
    // one (session fixation); the pending request moves to the new session.
    let (new, set_session) = new_session(authority, &realm.name, Some(&user.id)).await?;
    authority.store.delete_session(&session.id_hash).await.map_err(store_failure)?;
    if !authority.store.delete_authorization_request(&req.id).await.map_err(store_failure)? {
        return Ok(page_error(OAuthError::invalid_request("this sign-in request was already completed")));
    }
    let id = new_token_id();
    let csrf = csrf_for(authority, &set_session.cookie, &id);
    let moved = AuthorizationRequest { id, session_hash: new.id_hash, csrf_hash: sha256(csrf.as_bytes()), ..req };
    authority.store.create_authorization_request(&moved).await.map_err(store_failure)?;
    let step = match consent_step(authority, &realm, &client, &moved, csrf, &user).await? {
        // Post/Redirect/Get: the consent page is fetched with a GET whose URL names
        // the request only; the page derives its anti-forgery token from the cookie.
        Step::Consent(_) => Step::SeeOther(format!(
            "{}/oauth/authorize/consent?request={}",
            authority.issuer(&realm.name),
            token_id_hex(&moved.id)
        )),
        other => other,
    };
    Ok(Outcome { step, set_session: Some(set_session) })
}

/// A consent request from a signed-in user, checked as [`form_request`] does.
struct ConsentForm {
    req: AuthorizationRequest,
    user: User,
    realm: Realm,
    client: Client,
}

async fn consent_form(
    authority: &Authority,
    realm: &str,
    params: &Params,
    cookie: Option<&str>,
    csrf: &str,
) -> Result<Result<ConsentForm, Outcome>, OAuthError> {
    let (req, session) = match form_request(authority, realm, params, cookie, csrf).await? {
        Ok(x) => x,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let Some(user) = signed_in_user(authority, &session).await? else {
        return Ok(Err(Step::Forbidden("sign in first").into()));
    };
    let Some((realm, client)) = request_client(authority, &req).await? else {
        return Ok(Err(page_error(OAuthError::invalid_request("the client is unknown or disabled"))));
    };
    Ok(Ok(ConsentForm { req, user, realm, client }))
}

/// `GET` of the consent page (after sign-in).
pub async fn consent_page(
    authority: &Authority,
    realm: &str,
    params: &Params,
    cookie: Option<&str>,
) -> Result<Outcome, OAuthError> {
    // Derived from this browser's cookie, never read from the URL: a page fetched
    // with another cookie, or for a request not moved there at sign-in, is refused.
    let csrf = match (cookie, params.get("request").and_then(parse_token_id_hex)) {
        (Some(cookie), Some(id)) => csrf_for(authority, cookie, &id),
        _ => String::new(),
    };
    let ConsentForm { req, user, realm, client } = match consent_form(authority, realm, params, cookie, &csrf).await? {
        Ok(f) => f,
        Err(outcome) => return Ok(outcome),
    };
    Ok(consent_step(authority, &realm, &client, &req, csrf, &user).await?.into())
}

/// `POST` of the consent form: `decision=allow` or `decision=deny`.
pub async fn submit_consent(
    authority: &Authority,
    realm: &str,
    params: &Params,
    cookie: Option<&str>,
) -> Result<Outcome, OAuthError> {
    let csrf = params.get("csrf").unwrap_or("");
    let ConsentForm { req, user, realm, client } = match consent_form(authority, realm, params, cookie, csrf).await? {
        Ok(f) => f,
        Err(outcome) => return Ok(outcome),
    };
    match params.get("decision") {
        Some("allow") => {
            let approved =
                authority.store.get_consent(&realm.name, &user.id, &client.client_id).await.map_err(store_failure)?;
            let mut scopes: Vec<&str> =
                approved.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).collect();
            for s in req.scope.split(' ').filter(|s| !s.is_empty()) {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
            authority
                .store
                .save_consent(&realm.name, &user.id, &client.client_id, &scopes.join(" "), authority.now())
                .await
                .map_err(store_failure)?;
            Ok(issue(authority, &realm, &client, &req, &user, RequestKept::Yes).await?.into())
        }
        Some("deny") => {
            if !authority.store.delete_authorization_request(&req.id).await.map_err(store_failure)? {
                return Ok(page_error(OAuthError::invalid_request("this request was already completed")));
            }
            let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
            Ok(Step::Client(reply_of(authority, &req).error(&e)).into())
        }
        _ => Ok(page_error(OAuthError::invalid_request("decision must be allow or deny"))),
    }
}

/// Whether the request answered was stored as pending (and so must be consumed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RequestKept {
    Yes,
    No,
}

/// Records the grant and answers the client: a code, or (implicit) an access token.
/// A stored request is consumed in the same transaction, so a form posted twice
/// issues once.
async fn issue(
    authority: &Authority,
    realm: &Realm,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    kept: RequestKept,
) -> Result<Step, OAuthError> {
    let now = authority.now();
    let grant = Grant {
        id: new_token_id(),
        realm: realm.name.clone(),
        client_id: client.client_id.clone(),
        subject: user.id.clone(),
        username: Some(user.username.clone()),
        scope: req.scope.clone(),
        teams: user.teams.clone(),
        permissions: Vec::new(),
        test: false,
        created_at: now,
        revoked_at: None,
    };
    let reply = reply_of(authority, req);
    let completed = || Step::ErrorPage(OAuthError::invalid_request("this request was already completed"));
    if req.response_type == ResponseType::Token.as_str() {
        if kept == RequestKept::Yes
            && !authority.store.delete_authorization_request(&req.id).await.map_err(store_failure)?
        {
            return Ok(completed());
        }
        let claims = TokenClaims {
            subject: user.id.clone(),
            username: Some(user.username.clone()),
            scope: req.scope.clone(),
            grant_id: Some(grant.id),
            permissions: Vec::new(),
            test: false,
            authorities: Some(user.roles.clone()),
            teams: grant.teams.clone(),
        };
        let access = authority.mint_access(realm, client, TokenKind::Access, claims).await?;
        authority.store.create_grant(&grant, std::slice::from_ref(&access.record)).await.map_err(store_failure)?;
        authority.metrics.token_issued(&realm.name, GrantType::Implicit);
        authority.audit_issued(crate::model::GrantType::Implicit, &access.record).await;
        return Ok(Step::Client(reply.redirect(vec![
            ("access_token".into(), access.token.clone()),
            ("token_type".into(), "Bearer".into()),
            ("expires_in".into(), access.expires_in().to_string()),
            ("scope".into(), req.scope.clone()),
        ])));
    }
    let minted = opaque::mint_code();
    let code = AuthorizationCode {
        id: minted.id,
        verifier_hash: minted.verifier_hash,
        realm: realm.name.clone(),
        client_id: client.client_id.clone(),
        grant_id: grant.id,
        redirect_uri: req.redirect_uri.clone(),
        redirect_uri_given: req.redirect_uri_given,
        code_challenge: req.code_challenge.clone(),
        code_challenge_method: req.code_challenge_method.clone(),
        issued_at: now,
        expires_at: now + realm.code_ttl,
        used_at: None,
    };
    let consumed = (kept == RequestKept::Yes).then_some(&req.id);
    match authority.store.create_grant_with_code(&grant, &code, consumed).await {
        Ok(()) => Ok(Step::Client(reply.redirect(vec![("code".into(), minted.token)]))),
        Err(StoreError::NotFound) => Ok(completed()),
        Err(e) => Err(store_failure(e)),
    }
}
