//! HTML pages of the browser flow, and the headers every page carries.

use askama::Template;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use portcullis_core::authorize::flow::{ConsentPage, LoginPage, NewSession, Outcome, Step};
use portcullis_core::error::OAuthError;
use portcullis_core::redirect::{ClientRedirect, ResponseMode};
use portcullis_core::secret::random_token_string;

pub const SESSION_COOKIE: &str = "portcullis_session";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate<'a> {
    assets: &'a str,
    action: &'a str,
    request_id: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentTemplate<'a> {
    assets: &'a str,
    action: &'a str,
    request_id: &'a str,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    scopes: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    assets: &'a str,
    message: &'a str,
    code: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostTemplate<'a> {
    assets: &'a str,
    action: &'a str,
    params: &'a [(String, String)],
    nonce: &'a str,
}

/// A scope in words for the consent page: `invoices.read` reads "Read invoices".
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => return "Know who you are".into(),
        "profile" => return "See your profile".into(),
        "email" => return "See your email address".into(),
        "offline_access" => return "Keep access while you are away".into(),
        _ => {}
    }
    let Some((resource, action)) = scope.rsplit_once(['.', ':']) else { return String::new() };
    let verb = match action {
        "read" => "Read",
        "write" => "Change",
        "delete" => "Delete",
        "admin" => "Administer",
        _ => return String::new(),
    };
    format!("{verb} {}", resource.replace(['.', ':', '_', '-'], " "))
}

/// Headers of every page: no framing (RFC 6749 §10.13), no referrer, no caching,
/// scripts only by nonce, styles from our own origin.
fn page_headers(h: &mut HeaderMap, nonce: Option<&str>) {
    let script = nonce.map(|n| format!(" script-src 'nonce-{n}';")).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self';{script} base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

fn html(status: StatusCode, body: String, nonce: Option<&str>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    page_headers(r.headers_mut(), nonce);
    r
}

fn see_other(location: &str) -> Response {
    let mut r = html(StatusCode::SEE_OTHER, String::new(), None);
    match HeaderValue::from_str(location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => error_page(&OAuthError::invalid_request("the redirect URI cannot be sent back"), "/assets"),
    }
}

pub fn error_page(e: &OAuthError, assets: &str) -> Response {
    let status = match e.code.http_status() {
        401 => StatusCode::BAD_REQUEST,
        s => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
    };
    if e.code == portcullis_core::error::ErrorCode::ServerError {
        tracing::error!(error = ?e.source, "authorization flow failed");
    }
    let body = ErrorTemplate { assets, message: e.description(), code: e.code.as_str() }.render().unwrap_or_default();
    let mut page = html(status, body, None);
    if e.code == portcullis_core::error::ErrorCode::TemporarilyUnavailable {
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    page
}

fn forbidden(why: &str, assets: &str) -> Response {
    let body = ErrorTemplate { assets, message: why, code: "forbidden" }.render().unwrap_or_default();
    html(StatusCode::FORBIDDEN, body, None)
}

/// The authorization response: 303 for query and fragment, an auto-posting form for
/// `form_post`. Never 307/308, which would re-post the password (RFC 9700 §4.12).
fn to_client(r: &ClientRedirect, assets: &str) -> Response {
    if r.mode != ResponseMode::FormPost {
        return see_other(&r.location());
    }
    let nonce = random_token_string();
    let body = FormPostTemplate { assets, action: &r.redirect_uri, params: &r.params, nonce: &nonce }
        .render()
        .unwrap_or_default();
    html(StatusCode::OK, body, Some(&nonce))
}

pub struct PageContext<'a> {
    /// Where the flow's forms post: `{issuer}/oauth/authorize`.
    pub authorize_url: &'a str,
    pub assets: &'a str,
    /// `Path` of the session cookie: the realm's issuer path.
    pub cookie_path: &'a str,
    pub secure_cookie: bool,
}

pub fn render(outcome: Outcome, ctx: &PageContext<'_>) -> Response {
    let login_action = format!("{}/login", ctx.authorize_url);
    let consent_action = format!("{}/consent", ctx.authorize_url);
    let mut response = match outcome.step {
        Step::Login(LoginPage { request_id, csrf, client_name, username, error }) => {
            let t = LoginTemplate {
                assets: ctx.assets,
                action: &login_action,
                request_id: &request_id,
                csrf: &csrf,
                client_name: &client_name,
                username: &username,
                error: error.as_deref(),
            };
            html(StatusCode::OK, t.render().unwrap_or_default(), None)
        }
        Step::Consent(ConsentPage { request_id, csrf, client_name, username, scopes }) => {
            let t = ConsentTemplate {
                assets: ctx.assets,
                action: &consent_action,
                request_id: &request_id,
                csrf: &csrf,
                client_name: &client_name,
                username: &username,
                scopes: scopes.into_iter().map(|s| (describe_scope(&s), s)).map(|(d, s)| (s, d)).collect(),
            };
            html(StatusCode::OK, t.render().unwrap_or_default(), None)
        }
        Step::SeeOther(location) => see_other(&location),
        Step::Client(r) => to_client(&r, ctx.assets),
        Step::ErrorPage(e) => error_page(&e, ctx.assets),
        Step::Forbidden(why) => forbidden(why, ctx.assets),
    };
    if let Some(NewSession { cookie, max_age }) = outcome.set_session {
        let secure = if ctx.secure_cookie { "; Secure" } else { "" };
        let value = format!(
            "{SESSION_COOKIE}={cookie}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            ctx.cookie_path
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The session cookie's value from the request, if exactly one was sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let mut found = None;
    for v in headers.get_all(header::COOKIE) {
        for part in v.to_str().ok()?.split(';') {
            if let Some(value) = part.trim().strip_prefix(SESSION_COOKIE).and_then(|r| r.strip_prefix('=')) {
                if found.is_some() {
                    return None;
                }
                found = Some(value.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_words() {
        assert_eq!(describe_scope("invoices.read"), "Read invoices");
        assert_eq!(describe_scope("billing:write"), "Change billing");
        assert_eq!(describe_scope("weird"), "");
    }
}
