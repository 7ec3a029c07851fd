//! Concurrent clients issuing tokens against a spawned server until it goes away,
//! each keeping every token whose answer reached it: the crash and shutdown tests
//! then check that the server kept its word on each of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::{Workspace, with_stdin};

pub const PASSWORD: &str = "correct horse battery";

/// The clients the load uses, created on the workspace's database.
#[derive(Clone)]
pub struct Accounts {
    /// A confidential client_credentials client.
    pub machine: (String, String),
    /// A confidential password + refresh_token client, and user `alice` to sign in.
    pub app: (String, String),
    /// A public PKCE client of the code flow (no secret).
    pub web: (String, String),
    /// A resource server, to introspect everyone's tokens.
    pub introspector: (String, String),
}

/// Where the code flow's client is redirected; never fetched.
pub const REDIRECT: &str = "https://app.example/cb";

fn client(w: &Workspace, name: &str, extra: &[&str]) -> (String, String) {
    client_in(w, "default", name, extra)
}

/// A client of `realm` made by `client create` with `extra` flags: its id and secret.
pub fn client_in(w: &Workspace, realm: &str, name: &str, extra: &[&str]) -> (String, String) {
    let c = w.json(&[&["client", "create", "--realm", realm, "--name", name, "--json"], extra].concat());
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

impl Accounts {
    pub fn create(w: &Workspace) -> Self {
        let machine = client(w, "machine", &["--grant-types", "client_credentials", "--scope", "a"]);
        let app = client(w, "app", &["--grant-types", "password,refresh_token", "--scope", "a"]);
        let introspector = client(w, "rs", &["--resource-server"]);
        let web = w.json(&[
            "client",
            "create",
            "--realm",
            "default",
            "--name",
            "web",
            "--public",
            "--grant-types",
            "authorization_code,refresh_token",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "a",
            "--json",
        ]);
        let web = (web["client_id"].as_str().unwrap().to_owned(), String::new());
        let args = ["user", "create", "--realm", "default", "--username", "alice", "--password-stdin"];
        let out = with_stdin(w, &args, &format!("{PASSWORD}\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self { machine, app, web, introspector }
    }
}

/// What one load client saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The access token of every 200 answer.
    pub access: Vec<String>,
    /// The refresh token of every 200 answer.
    pub refresh: Vec<String>,
    /// Whether those refresh tokens are rotated (all but the last then spent), or
    /// all kept unused (the code flow's).
    pub rotates: bool,
    /// The refresh token a rotating client holds last, and whether a rotation of it
    /// was sent without its answer arriving (so it may have been spent).
    pub last_refresh: Option<(String, bool)>,
    /// Answers other than 200, which no request of the load should get.
    pub unexpected: Vec<String>,
    /// Whether the last request ended in an answer cut off after its status line.
    pub cut_off: bool,
}

impl Seen {
    /// Every token whose answer reached the client and that must still be active: its
    /// access tokens and the refresh token it holds, unless a rotation of that one was
    /// in doubt.
    pub fn must_be_active(&self) -> Box<dyn Iterator<Item = &String> + '_> {
        if !self.rotates {
            return Box::new(self.access.iter().chain(&self.refresh));
        }
        let last = self.last_refresh.iter().filter(|(_, in_doubt)| !in_doubt).map(|(rt, _)| rt);
        Box::new(self.access.iter().chain(last))
    }

    /// The refresh tokens held unspent: the last of a rotation, every one of the
    /// code flow.
    pub fn unspent_refresh(&self) -> Vec<&String> {
        match self.rotates {
            true => self.last_refresh.iter().map(|(rt, _)| rt).collect(),
            false => self.refresh.iter().collect(),
        }
    }
}

/// One client of the load: it issues tokens until a request gets no answer (the
/// server was killed or stopped accepting).
#[derive(Clone, Copy)]
pub enum Kind {
    ClientCredentials,
    /// Signs in with the password grant, then rotates its refresh token again and again.
    Rotation,
    /// Signs in through the login and consent pages, then exchanges the code (PKCE).
    CodeExchange,
}

/// The 200s the load has had so far: in all, and for code exchanges.
#[derive(Default)]
pub struct Progress {
    answers: AtomicUsize,
    exchanges: AtomicUsize,
}

impl Progress {
    /// Whether the load has had `answers` 200s, one of them a code exchange, so that
    /// every kind of client is in full flow.
    pub fn reached(&self, answers: usize) -> bool {
        self.answers.load(Ordering::SeqCst) >= answers && self.exchanges.load(Ordering::SeqCst) > 0
    }
}

/// Runs `clients` concurrently against `base`, noting each 200 in `progress`.
pub async fn run(base: &str, accounts: &Accounts, clients: &[Kind], progress: Arc<Progress>) -> Vec<Seen> {
    let tasks: Vec<_> = clients
        .iter()
        .map(|kind| {
            let (kind, progress) = (*kind, progress.clone());
            let url = format!("{base}/realms/default/oauth/token");
            let (id, secret) = match kind {
                Kind::ClientCredentials => accounts.machine.clone(),
                Kind::Rotation => accounts.app.clone(),
                Kind::CodeExchange => accounts.web.clone(),
            };
            let base = base.to_owned();
            tokio::spawn(async move {
                // One connection per client, kept alive, as a real client pool would.
                let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
                let mut seen = Seen { rotates: matches!(kind, Kind::Rotation), ..Seen::default() };
                loop {
                    let mut code = None;
                    let form: Vec<(&str, &str)> = match (kind, &seen.last_refresh) {
                        (Kind::CodeExchange, _) => {
                            let Some((c, verifier)) = code_through_pages(&base, &id).await else { return seen };
                            code = Some((c, verifier));
                            let (c, verifier) = code.as_ref().unwrap();
                            vec![
                                ("grant_type", "authorization_code"),
                                ("code", c),
                                ("redirect_uri", REDIRECT),
                                ("client_id", &id),
                                ("code_verifier", verifier),
                            ]
                        }
                        (Kind::ClientCredentials, _) => vec![("grant_type", "client_credentials")],
                        (Kind::Rotation, None) => {
                            vec![("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)]
                        }
                        (Kind::Rotation, Some((rt, _))) => vec![("grant_type", "refresh_token"), ("refresh_token", rt)],
                    };
                    let mut request = http.post(&url).form(&form);
                    if !secret.is_empty() {
                        request = request.basic_auth(&id, Some(&secret));
                    }
                    let sent = request.send().await;
                    drop(code);
                    let body = match sent {
                        Ok(r) if r.status() == 200 => r.text().await.map_err(|_| true),
                        Ok(r) => {
                            let status = r.status();
                            seen.unexpected.push(format!("{status}: {}", r.text().await.unwrap_or_default()));
                            return seen;
                        }
                        Err(_) => Err(false),
                    };
                    let body = match body {
                        Ok(body) => body,
                        Err(cut_off) => {
                            seen.cut_off = cut_off;
                            if let Some((_, in_doubt)) = &mut seen.last_refresh {
                                *in_doubt = true;
                            }
                            return seen;
                        }
                    };
                    let body: Value = serde_json::from_str(&body).unwrap();
                    seen.access.push(body["access_token"].as_str().unwrap().to_owned());
                    if let Some(rt) = body["refresh_token"].as_str() {
                        seen.refresh.push(rt.to_owned());
                        seen.last_refresh = Some((rt.to_owned(), false));
                    }
                    progress.answers.fetch_add(1, Ordering::SeqCst);
                    if matches!(kind, Kind::CodeExchange) {
                        progress.exchanges.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    all
}

/// The value of the hidden `<input name=NAME value=...>` of a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

fn location(r: &reqwest::Response) -> Option<String> {
    Some(r.headers().get("location")?.to_str().ok()?.to_owned())
}

/// Authorize, sign in as `alice` and allow, as a browser does (its own cookie jar):
/// a code and its PKCE verifier, or `None` once the server stops answering.
pub async fn code_through_pages(base: &str, client_id: &str) -> Option<(String, String)> {
    let http =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().ok()?;
    let verifier = portcullis_core::secret::random_token_string();
    let challenge = portcullis_core::pkce::s256(&verifier);
    let issuer = format!("{base}/realms/default");
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let page = http.get(format!("{issuer}/oauth/authorize")).query(&query).send().await.ok()?.text().await.ok()?;
    let (request, csrf) = (hidden(&page, "request")?, hidden(&page, "csrf")?);
    let form = [("request", request.as_str()), ("csrf", &csrf), ("username", "alice"), ("password", PASSWORD)];
    let r = http.post(format!("{issuer}/oauth/authorize/login")).form(&form).send().await.ok()?;
    let mut next = location(&r)?;
    if !next.starts_with(REDIRECT) {
        let page = http.get(&next).send().await.ok()?.text().await.ok()?;
        let (request, csrf) = (hidden(&page, "request")?, hidden(&page, "csrf")?);
        let form = [("request", request.as_str()), ("csrf", &csrf), ("decision", "allow")];
        let r = http.post(format!("{issuer}/oauth/authorize/consent")).form(&form).send().await.ok()?;
        next = location(&r)?;
    }
    let query = next.split_once('?')?.1;
    let code = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "code")?.1.into_owned();
    Some((code, verifier))
}

/// The introspection answer for each of `tokens`, asked concurrently.
pub async fn introspect_all(base: &str, accounts: &Accounts, tokens: &[String]) -> Vec<(String, Value)> {
    let http = reqwest::Client::new();
    let url = format!("{base}/realms/default/oauth/introspect");
    let chunks: Vec<Vec<String>> = tokens.chunks(tokens.len().div_ceil(8).max(1)).map(<[String]>::to_vec).collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (http, url, (id, secret)) = (http.clone(), url.clone(), accounts.introspector.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                for t in chunk {
                    let r = http.post(&url).basic_auth(&id, Some(&secret)).form(&[("token", &t)]).send().await;
                    let r = r.unwrap();
                    assert_eq!(r.status(), 200);
                    out.push((t, r.json::<Value>().await.unwrap()));
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// The tokens of `answers` that introspect as inactive.
pub fn inactive(answers: &[(String, Value)]) -> Vec<&str> {
    answers.iter().filter(|(_, v)| v["active"] != true).map(|(t, _)| t.as_str()).collect()
}
