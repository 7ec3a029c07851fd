//! The authorization endpoint (RFC 6749 §3.1) and the login and consent forms
//! behind it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use portcullis_core::authorize::flow;
use portcullis_core::error::OAuthError;
use portcullis_core::params::Params;
use portcullis_core::urlencoded::{parse_form, parse_pairs};

use crate::AppState;
use crate::extract::{ClientAddr, RealmName, read_body};
use crate::pages::{PageContext, error_page, render, session_cookie};

struct Urls {
    authorize: String,
    assets: String,
    cookie_path: String,
    secure: bool,
}

impl Urls {
    fn new(state: &AppState, realm: &str) -> Self {
        let public = state.authority.public_url();
        let path_prefix = url_path(public);
        Self {
            authorize: format!("{}/oauth/authorize", state.authority.issuer(realm)),
            assets: format!("{path_prefix}/assets"),
            cookie_path: format!("{path_prefix}/realms/{realm}/"),
            secure: public.starts_with("https://"),
        }
    }

    fn ctx(&self) -> PageContext<'_> {
        PageContext {
            authorize_url: &self.authorize,
            assets: &self.assets,
            cookie_path: &self.cookie_path,
            secure_cookie: self.secure,
        }
    }
}

/// The path part of the public URL (`https://h/auth` → `/auth`).
fn url_path(public: &str) -> &str {
    let after_scheme = public.split_once("://").map_or(public, |(_, r)| r);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

fn failure(state: &AppState, realm: &str, e: OAuthError) -> Response {
    error_page(&e, &Urls::new(state, realm).assets)
}

/// `GET` or `POST {issuer}/oauth/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    RealmName(realm): RealmName,
    ClientAddr(addr): ClientAddr,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let pairs = if req.method() == Method::POST {
        match read_body(req.into_body(), state.settings.body_limit).await {
            Ok(b) => parse_pairs(&b),
            Err(e) => Err(e),
        }
    } else {
        parse_pairs(req.uri().query().unwrap_or("").as_bytes())
    };
    let pairs = match pairs {
        Ok(p) => p,
        Err(e) => return failure(&state, &realm, e),
    };
    let cookie = session_cookie(&headers);
    match flow::authorize(&state.authority, &realm, &pairs, cookie.as_deref(), addr).await {
        Ok(outcome) => render(outcome, &Urls::new(&state, &realm).ctx()),
        Err(e) => failure(&state, &realm, e),
    }
}

async fn form(state: &AppState, req: Request) -> Result<(HeaderMap, Params), OAuthError> {
    let headers = req.headers().clone();
    let body = read_body(req.into_body(), state.settings.body_limit).await?;
    Ok((headers, parse_form(&body)?))
}

/// `POST {issuer}/oauth/authorize/login`.
pub async fn login(
    State(state): State<AppState>,
    RealmName(realm): RealmName,
    ClientAddr(addr): ClientAddr,
    req: Request,
) -> Response {
    let (headers, params) = match form(&state, req).await {
        Ok(x) => x,
        Err(e) => return failure(&state, &realm, e),
    };
    let cookie = session_cookie(&headers);
    match flow::submit_login(&state.authority, &realm, &params, cookie.as_deref(), addr).await {
        Ok(outcome) => render(outcome, &Urls::new(&state, &realm).ctx()),
        Err(e) => failure(&state, &realm, e),
    }
}

/// `GET {issuer}/oauth/authorize/consent`.
pub async fn consent_page(
    State(state): State<AppState>,
    RealmName(realm): RealmName,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let params = match parse_form(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return failure(&state, &realm, e),
    };
    let cookie = session_cookie(&headers);
    match flow::consent_page(&state.authority, &realm, &params, cookie.as_deref()).await {
        Ok(outcome) => render(outcome, &Urls::new(&state, &realm).ctx()),
        Err(e) => failure(&state, &realm, e),
    }
}

/// `POST {issuer}/oauth/authorize/consent`.
pub async fn consent(State(state): State<AppState>, RealmName(realm): RealmName, req: Request) -> Response {
    let (headers, params) = match form(&state, req).await {
        Ok(x) => x,
        Err(e) => return failure(&state, &realm, e),
    };
    let cookie = session_cookie(&headers);
    match flow::submit_consent(&state.authority, &realm, &params, cookie.as_deref()).await {
        Ok(outcome) => render(outcome, &Urls::new(&state, &realm).ctx()),
        Err(e) => failure(&state, &realm, e),
    }
}

/// The pages' one stylesheet, from our own origin (CSP `style-src 'self'`).
pub async fn stylesheet() -> Response {
    let mut r = Response::new(axum::body::Body::from(include_str!("../../assets/portcullis.css")));
    let h = r.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("public, max-age=3600"));
    r
}
