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
    app: (String, String),
    /// A resource server, to introspect everyone's tokens.
    pub introspector: (String, String),
}

fn client(w: &Workspace, name: &str, extra: &[&str]) -> (String, String) {
    let c = w.json(&[&["client", "create", "--realm", "default", "--name", name, "--json"], extra].concat());
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

impl Accounts {
    pub fn create(w: &Workspace) -> Self {
        let machine = client(w, "machine", &["--grant-types", "client_credentials", "--scope", "a"]);
        let app = client(w, "app", &["--grant-types", "password,refresh_token", "--scope", "a"]);
        let introspector = client(w, "rs", &["--resource-server"]);
        let args = ["user", "create", "--realm", "default", "--username", "alice", "--password-stdin"];
        let out = with_stdin(w, &args, &format!("{PASSWORD}\n"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Self { machine, app, introspector }
    }
}

/// What one load client saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The access token of every 200 answer.
    pub access: Vec<String>,
    /// The refresh token of every 200 answer (all but the last since spent).
    pub refresh: Vec<String>,
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
    pub fn must_be_active(&self) -> impl Iterator<Item = &String> {
        let last = self.last_refresh.iter().filter(|(_, in_doubt)| !in_doubt).map(|(rt, _)| rt);
        self.access.iter().chain(last)
    }
}

/// One client of the load: it issues tokens until a request gets no answer (the
/// server was killed or stopped accepting).
#[derive(Clone, Copy)]
pub enum Kind {
    ClientCredentials,
    /// Signs in with the password grant, then rotates its refresh token again and again.
    Rotation,
}

/// Runs `clients` concurrently against `base`; `answered` counts the 200s as they come.
pub async fn run(base: &str, accounts: &Accounts, clients: &[Kind], answered: Arc<AtomicUsize>) -> Vec<Seen> {
    let tasks: Vec<_> = clients
        .iter()
        .map(|kind| {
            let (kind, answered) = (*kind, answered.clone());
            let url = format!("{base}/realms/default/oauth/token");
            let (id, secret) = match kind {
                Kind::ClientCredentials => accounts.machine.clone(),
                Kind::Rotation => accounts.app.clone(),
            };
            tokio::spawn(async move {
                // One connection per client, kept alive, as a real client pool would.
                let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
                let mut seen = Seen::default();
                loop {
                    let form: Vec<(&str, &str)> = match (kind, &seen.last_refresh) {
                        (Kind::ClientCredentials, _) => vec![("grant_type", "client_credentials")],
                        (Kind::Rotation, None) => {
                            vec![("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)]
                        }
                        (Kind::Rotation, Some((rt, _))) => vec![("grant_type", "refresh_token"), ("refresh_token", rt)],
                    };
                    let sent = http.post(&url).basic_auth(&id, Some(&secret)).form(&form).send().await;
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
                    answered.fetch_add(1, Ordering::SeqCst);
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
