//! A cookie-keeping HTTP client that walks the login and consent pages the way a
//! browser does, reading the forms' hidden fields from the HTML.

use portcullis_core::admin::{ClientSpec, UserSpec};
use portcullis_core::model::GrantType;
use reqwest::Response;

use crate::harness::{TestClient, TestServer};

pub const REDIRECT: &str = "https://app.example/cb";

pub struct Browser {
    pub http: reqwest::Client,
}

/// The value of the `<input name=NAME value=...>` in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

pub fn location(r: &Response) -> String {
    r.headers().get("location").expect("a Location header").to_str().unwrap().to_owned()
}

/// The query (or fragment) parameters of a redirect URL.
pub fn redirect_params(url: &str) -> Vec<(String, String)> {
    let part = url.split_once('#').map(|(_, f)| f).or_else(|| url.split_once('?').map(|(_, q)| q)).unwrap_or("");
    url::form_urlencoded::parse(part.as_bytes()).into_owned().collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

impl Browser {
    pub fn new() -> Self {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http }
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Response {
        self.http.post(url).form(form).send().await.unwrap()
    }

    /// Fills the login form of `page` (the HTML of a login page).
    pub async fn login(&self, s: &TestServer, realm: &str, page: &str, user: &str, password: &str) -> Response {
        let request = hidden(page, "request").expect("login page has a request field");
        let csrf = hidden(page, "csrf").expect("login page has a csrf field");
        let url = s.url(realm, "/oauth/authorize/login");
        self.post(&url, &[("request", &request), ("csrf", &csrf), ("username", user), ("password", password)]).await
    }

    /// Presses a button of the consent form in `page`.
    pub async fn decide(&self, s: &TestServer, realm: &str, page: &str, decision: &str) -> Response {
        let request = hidden(page, "request").expect("consent page has a request field");
        let csrf = hidden(page, "csrf").expect("consent page has a csrf field");
        let url = s.url(realm, "/oauth/authorize/consent");
        self.post(&url, &[("request", &request), ("csrf", &csrf), ("decision", decision)]).await
    }

    /// Authorize → login → consent (allow) → the redirect to the client; returns the
    /// redirect's parameters.
    pub async fn authorize_and_allow(
        &self,
        s: &TestServer,
        realm: &str,
        query: &[(&str, &str)],
        user: &str,
        password: &str,
    ) -> Vec<(String, String)> {
        let url = authorize_url(s, realm, query);
        let r = self.get(&url).await;
        assert_eq!(r.status(), 200, "authorize should show the login page");
        let page = r.text().await.unwrap();
        let r = self.login(s, realm, &page, user, password).await;
        assert_eq!(r.status(), 303, "login should redirect");
        let next = location(&r);
        let r = if next.starts_with(REDIRECT) {
            r
        } else {
            let page = self.get(&next).await.text().await.unwrap();
            let r = self.decide(s, realm, &page, "allow").await;
            assert_eq!(r.status(), 303, "consent should redirect");
            r
        };
        let to = location(&r);
        assert!(to.starts_with(REDIRECT), "redirected to {to}");
        redirect_params(&to)
    }
}

pub fn authorize_url(s: &TestServer, realm: &str, query: &[(&str, &str)]) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    format!("{}?{q}", s.url(realm, "/oauth/authorize"))
}

/// The authorize URL of the plain public-client code flow: `code`, the test redirect
/// URI, an S256 challenge, and `extra` parameters.
/// The authorization request of a PKCE code flow to `REDIRECT`.
pub fn pkce_query<'a>(client_id: &'a str, challenge: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

pub fn pkce_authorize_url(s: &TestServer, client_id: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut q = pkce_query(client_id, challenge).to_vec();
    q.extend_from_slice(extra);
    authorize_url(s, "default", &q)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = portcullis_core::secret::random_token_string();
    let challenge = portcullis_core::pkce::s256(&verifier);
    (verifier, challenge)
}

impl TestServer {
    pub async fn user(&self, realm: &str, username: &str, password: &str, roles: &[&str]) -> String {
        let spec = UserSpec {
            username: Some(username.into()),
            roles: Some(roles.iter().map(|r| r.to_string()).collect()),
            ..Default::default()
        };
        self.admin().create_user(realm, &spec, Some(password)).await.unwrap().id
    }

    /// A client for the code flow (public with PKCE, or confidential), with refresh.
    pub async fn code_client(&self, realm: &str, name: &str, public: bool) -> TestClient {
        self.client_with(
            realm,
            ClientSpec {
                name: Some(name.into()),
                public,
                grant_types: Some(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
                redirect_uris: Some(vec![REDIRECT.into()]),
                scopes: Some(vec!["invoices.read".into(), "invoices.write".into()]),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn password_client(&self, realm: &str, name: &str) -> TestClient {
        self.client_with(
            realm,
            ClientSpec {
                name: Some(name.into()),
                grant_types: Some(vec![GrantType::Password, GrantType::RefreshToken]),
                scopes: Some(vec!["invoices.read".into(), "invoices.write".into()]),
                ..Default::default()
            },
        )
        .await
    }

    /// Exchanges a code at the token endpoint as `client` (Basic when it has a secret).
    pub async fn exchange(&self, realm: &str, client: &TestClient, code: &str, verifier: Option<&str>) -> Response {
        let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        if client.secret.is_empty() {
            form.push(("client_id", &client.id));
            self.post_form(&self.url(realm, "/oauth/token"), None, &form).await
        } else {
            self.post_form(&self.url(realm, "/oauth/token"), Some(client), &form).await
        }
    }

    pub async fn refresh(&self, realm: &str, client: &TestClient, rt: &str, scope: Option<&str>) -> Response {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        if client.secret.is_empty() {
            form.push(("client_id", &client.id));
            self.post_form(&self.url(realm, "/oauth/token"), None, &form).await
        } else {
            self.post_form(&self.url(realm, "/oauth/token"), Some(client), &form).await
        }
    }
}
