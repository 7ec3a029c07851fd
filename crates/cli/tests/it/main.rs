//! The `portcullis` binary as an operator uses it: commands on a fresh database, and
//! the README's walk-through against a spawned `portcullis serve`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

mod admin_token;
mod audited_changes;
mod crash;
mod load;
mod master_key;
mod observability;
mod organizations;
mod shutdown;
mod three_processes;
mod tls;

struct Workspace {
    dir: tempfile::TempDir,
    /// Set for a database other than the SQLite file in `dir`.
    database: Option<String>,
}

impl Workspace {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), database: None }
    }

    /// A workspace whose commands and servers use the database at `url`.
    fn on(url: &str) -> Self {
        Self { database: Some(url.to_owned()), ..Self::new() }
    }

    fn db(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.dir.path().join("p.db").display()),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        c.args(args).arg("--database").arg(self.db()).current_dir(self.dir.path());
        c.env_remove("PORTCULLIS_DATABASE_URL").env_remove("PORTCULLIS_CONFIG");
        c.env_remove("PORTCULLIS_MASTER_KEY").env_remove("PORTCULLIS_MASTER_KEY_FILE");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A refused command: non-zero, first stderr line names the problem, no panic.
    fn refused(&self, args: &[&str], mentions: &str) {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        let first = err.lines().next().unwrap_or("");
        assert!(first.to_lowercase().contains(&mentions.to_lowercase()), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    }
}

#[test]
fn realm_lifecycle() {
    let w = Workspace::new();
    let r = w.json(&[
        "realm",
        "create",
        "acme",
        "--access-ttl",
        "600",
        "--token-format",
        "jwt",
        "--signing-alg",
        "EdDSA",
        "--json",
    ]);
    assert_eq!(r["name"], "acme");
    assert_eq!(r["access_ttl"], 600);
    assert_eq!(r["token_format"], "jwt");
    let list = w.json(&["realm", "list", "--json"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme", "default"]);
    let r = w.json(&["realm", "update", "acme", "--refresh-ttl", "never", "--json"]);
    assert_eq!(r["refresh_ttl"], Value::Null);
    let keys = w.json(&["keys", "list", "--realm", "acme", "--json"]);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    w.json(&["keys", "rotate", "--realm", "acme", "--json"]);
    let keys = w.json(&["keys", "list", "--realm", "acme", "--json"]);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(!keys.to_string().contains("PRIVATE"));
    assert!(w.run(&["realm", "delete", "acme"]).status.success());
    w.refused(&["realm", "show", "acme"], "does not exist");
}

/// `realm show` leads with the signing key and the token lifetimes; an HS secret is
/// random per realm and printed only with `--show-secret`.
#[test]
fn realm_show_leads_with_signing_key_and_validity_and_hides_the_secret() {
    let w = Workspace::new();
    for name in ["hs-one", "hs-two"] {
        w.json(&[
            "realm",
            "create",
            name,
            "--token-format",
            "jwt",
            "--signing-alg",
            "HS256",
            "--customer-ttl",
            "900",
            "--json",
        ]);
    }
    let out = w.run(&["realm", "show", "hs-one", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let raw = String::from_utf8(out.stdout).unwrap();
    assert!(raw.starts_with(r#"{"signing":{"#), "{raw}");
    let validity_at = raw.find(r#""validity":"#).unwrap();
    assert!(validity_at < raw.find(r#""name":"#).unwrap(), "{raw}");
    let shown: Value = serde_json::from_str(&raw).unwrap();
    let keys = w.json(&["keys", "list", "--realm", "hs-one", "--json"]);
    assert_eq!(shown["signing"]["kid"], keys[0]["kid"]);
    assert_eq!(shown["signing"]["alg"], "HS256");
    assert!(shown["signing"]["key"].as_str().unwrap().contains("signing_keys"), "{shown}");
    assert_eq!(shown["signing"].get("secret"), None, "no secret without --show-secret");
    assert_eq!(shown["validity"], serde_json::json!({"access_ttl": 3600, "refresh_ttl": 2592000, "customer_ttl": 900}));

    let secret = |realm: &str| {
        let v = w.json(&["realm", "show", realm, "--show-secret", "--json"]);
        v["signing"]["secret"].as_str().unwrap().to_owned()
    };
    let (one, two) = (secret("hs-one"), secret("hs-two"));
    assert!(one.len() >= 43, "32 random bytes in base64: {one}");
    assert_ne!(one, two, "every realm has its own random secret");

    let text = w.run(&["realm", "show", "hs-one"]);
    let text = String::from_utf8(text.stdout).unwrap();
    let first: Vec<&str> = text.lines().take(7).map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    let expected = [
        "signing.alg",
        "signing.created_at",
        "signing.key",
        "signing.kid",
        "validity.access_ttl",
        "validity.customer_ttl",
        "validity.refresh_ttl",
    ];
    assert_eq!(first, expected, "{text}");
    assert_eq!(text.matches("access_ttl").count(), 1, "{text}");
    assert!(!text.contains(&one), "text output hides the secret too");
}

#[test]
fn bad_input_is_one_clear_line_and_writes_nothing() {
    let w = Workspace::new();
    w.refused(&["realm", "create", "Bad_Name"], "invalid realm name");
    w.refused(&["realm", "create", "ok", "--access-ttl", "0"], "access-ttl");
    w.refused(&["realm", "create", "ok", "--signing-alg", "none"], "signingalg");
    w.refused(&["realm", "create", "ok", "--token-format", "xml"], "tokenformat");
    w.refused(&["realm", "create", "default"], "already exists");
    w.refused(&["realm", "delete", "default"], "cannot be deleted");
    w.refused(&["client", "create", "--realm", "nope", "--name", "x"], "does not exist");
    w.refused(&["client", "create", "--realm", "default", "--name", "x", "--grant-types", "magic"], "granttype");
    w.refused(
        &[
            "client",
            "create",
            "--realm",
            "default",
            "--name",
            "x",
            "--redirect-uri",
            "javascript:alert(1)",
            "--grant-types",
            "authorization_code",
        ],
        "redirect uri",
    );
    w.refused(
        &["client", "create", "--realm", "default", "--name", "x", "--public", "--grant-types", "client_credentials"],
        "public clients",
    );
    w.refused(
        &["client", "create", "--realm", "default", "--name", "x", "--scope", "a", "--default-scope", "b"],
        "default scope",
    );
    w.refused(
        &["client", "create", "--realm", "default", "--name", "x", "--grant-types", "authorization_code"],
        "redirect-uri",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["realm", "list"])
        .env("PORTCULLIS_DATABASE_URL", "mysql://root:hunter2@db/x")
        .current_dir(w.dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.starts_with("error: cannot open database"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
    let list = w.json(&["realm", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "only the default realm: {list}");
    let clients = w.json(&["client", "list", "--realm", "default", "--json"]);
    assert_eq!(clients, serde_json::json!([]));
}

#[test]
fn client_lifecycle_shows_the_secret_once() {
    let w = Workspace::new();
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "billing",
        "--grant-types",
        "client_credentials",
        "--scope",
        "invoices.read invoices.write",
        "--json",
    ]);
    let id = c["client_id"].as_str().unwrap();
    assert!(c["client_secret"].as_str().unwrap().starts_with("pcs_"));
    let shown = w.json(&["client", "show", "--realm", "default", id, "--json"]);
    assert!(shown.get("client_secret").is_none());
    assert_eq!(shown["scopes"], serde_json::json!(["invoices.read", "invoices.write"]));
    let by_name = w.json(&["client", "show", "--realm", "default", "billing", "--json"]);
    assert_eq!(by_name["client_id"], id);
    w.refused(&["client", "create", "--realm", "default", "--name", "billing"], "already has a client");
    let updated = w.json(&[
        "client",
        "update",
        "--realm",
        "default",
        "billing",
        "--scope",
        "invoices.read",
        "--disable",
        "--json",
    ]);
    assert_eq!(updated["disabled"], true);
    assert_eq!(updated["default_scopes"], serde_json::json!(["invoices.read"]));
    let rotated = w.json(&["client", "rotate-secret", "--realm", "default", "billing", "--json"]);
    assert_ne!(rotated["client_secret"], c["client_secret"]);
    let p = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "spa",
        "--public",
        "--redirect-uri",
        "https://app.example/cb",
        "--json",
    ]);
    assert!(p.get("client_secret").is_none());
    assert_eq!(p["auth_method"], "none");
    assert!(w.run(&["client", "delete", "--realm", "default", "billing"]).status.success());
    w.refused(&["client", "show", "--realm", "default", "billing"], "does not exist");
}

/// A spawned `portcullis serve` (killed when dropped) and its log lines after
/// "listening", as they come.
struct Server(Child, std::sync::mpsc::Receiver<Value>);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Starts `portcullis serve` on a free port and returns it with its base URL, read from
/// the JSON "listening" log line.
fn serve(w: &Workspace) -> (Server, String) {
    let (server, base, _) = serve_with(w, &["--bind", "127.0.0.1:0"]);
    (server, base)
}

/// `portcullis serve ARGS`, with its base URL and the log lines before "listening".
fn serve_with(w: &Workspace, args: &[&str]) -> (Server, String, Vec<Value>) {
    serve_with_env(w, args, &[])
}

/// [`serve_with`], with these environment variables set.
fn serve_with_env(w: &Workspace, args: &[&str], env: &[(&str, &str)]) -> (Server, String, Vec<Value>) {
    let mut child = w
        .cmd(&[&["serve", "--log-format", "json"], args].concat())
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut before = Vec::new();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["message"] == "listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
        before.push(v);
    };
    // Keep draining the log so the server never blocks on a full pipe.
    let (logs, logged) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = logs.send(serde_json::from_str(&line).unwrap_or(Value::Null));
        }
    });
    (Server(child, logged), format!("http://{addr}"), before)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Two instances on one database, neither given --public-url: one issuer, so a JWT
/// from one verifies at the other (issue: each used to default to its own address).
#[tokio::test]
async fn instances_without_a_public_url_share_the_first_ones_issuer() {
    let w = Workspace::new();
    w.json(&["realm", "create", "acme", "--token-format", "jwt", "--signing-alg", "ES256", "--json"]);
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "acme",
        "--name",
        "svc",
        "--grant-types",
        "client_credentials",
        "--scope",
        "a",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (first_port, second_port) = (free_port(), free_port());
    let (_one, first, _) = serve_with(&w, &["--bind", &format!("127.0.0.1:{first_port}")]);
    let (_two, second, _) = serve_with(&w, &["--bind", &format!("127.0.0.1:{second_port}")]);
    assert_ne!(first, second);
    assert_eq!(w.json(&["public-url", "show", "--json"])["public_url"], first.as_str());

    let http = reqwest::Client::new();
    let issuer = |base: String| {
        let http = http.clone();
        async move {
            let url = format!("{base}/realms/acme/.well-known/oauth-authorization-server");
            http.get(url).send().await.unwrap().json::<Value>().await.unwrap()["issuer"].clone()
        }
    };
    assert_eq!(issuer(first.clone()).await, format!("{first}/realms/acme"));
    assert_eq!(issuer(second.clone()).await, format!("{first}/realms/acme"));

    let token: Value = http
        .post(format!("{second}/realms/acme/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = token["access_token"].as_str().unwrap();
    let info: Value = http
        .post(format!("{first}/realms/acme/oauth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["iss"], format!("{first}/realms/acme"), "{info}");

    // An operator moves the issuer: the next start without --public-url uses it.
    let set = w.json(&["public-url", "set", "https://auth.example.com/", "--json"]);
    assert_eq!(set["public_url"], "https://auth.example.com");
    let (_three, third, _) = serve_with(&w, &["--bind", "127.0.0.1:0"]);
    assert_eq!(issuer(third).await, "https://auth.example.com/realms/acme");
    w.refused(&["public-url", "set", "ftp://x"], "invalid public URL");
    assert_eq!(w.json(&["public-url", "show", "--json"])["public_url"], "https://auth.example.com");
}

#[tokio::test]
async fn a_non_loopback_bind_without_a_public_url_is_warned_about() {
    let w = Workspace::new();
    let (_s, _, logs) = serve_with(&w, &["--bind", "0.0.0.0:0"]);
    let warned =
        logs.iter().any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or("").contains("public URL"));
    assert!(warned, "{logs:?}");
    let w = Workspace::new();
    let (_s, _, logs) = serve_with(&w, &["--bind", "0.0.0.0:0", "--public-url", "https://auth.example.com"]);
    // The one warning left is the new database's generated master key.
    assert!(logs.iter().all(|l| l["level"] != "WARN" || l["target"] == "portcullis::master_key"), "{logs:?}");
}

#[tokio::test]
async fn readme_walkthrough_against_the_real_binary() {
    let w = Workspace::new();
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "billing",
        "--grant-types",
        "client_credentials",
        "--scope",
        "invoices.read invoices.write",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let (mut server, base) = serve(&w);
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/realms/default/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "invoices.read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = token["access_token"].as_str().unwrap();
    let introspect = |t: String| {
        let http = http.clone();
        let url = format!("{base}/realms/default/oauth/introspect");
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", t)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let info = introspect(at.to_owned()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "invoices.read");
    assert_eq!(info["client_id"], id);
    let r = http
        .post(format!("{base}/realms/default/oauth/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(at.to_owned()).await, serde_json::json!({"active": false}));

    // SIGTERM: stop accepting, exit 0.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

fn with_stdin(w: &Workspace, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = w.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn users_and_grants_from_the_command_line() {
    let w = Workspace::new();
    let out = with_stdin(
        &w,
        &[
            "user",
            "create",
            "--realm",
            "default",
            "--username",
            "alice",
            "--password-stdin",
            "--roles",
            "admin,billing",
            "--json",
        ],
        "correct horse battery\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alice: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(alice["roles"], serde_json::json!(["admin", "billing"]));
    assert_eq!(alice["kind"], "staff");
    assert!(!alice.to_string().contains("argon2"), "no hash is ever printed");
    w.refused(&["user", "create", "--realm", "default", "--username", "ALICE"], "already has a user");
    let out =
        with_stdin(&w, &["user", "create", "--realm", "default", "--username", "bob", "--password-stdin"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("8 to 1024"));
    w.refused(&["user", "create", "--realm", "default", "--username", "carol", "--kind", "robot"], "userkind");
    let users = w.json(&["user", "list", "--realm", "default", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1, "refused commands wrote nothing: {users}");

    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "app",
        "--grant-types",
        "password,refresh_token",
        "--scope",
        "a",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned());
    let (mut server, base) = serve(&w);
    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        let (http, url, id, secret) =
            (http.clone(), format!("{base}/realms/default/oauth/token"), id.clone(), secret.clone());
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "password"), ("username", "alice"), ("password", password)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = login("correct horse battery").await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["authorities"], serde_json::json!(["admin", "billing"]));
    let grants = w.json(&["grant", "list", "--realm", "default", "--user", "alice", "--json"]);
    assert_eq!(grants.as_array().unwrap().len(), 1);
    let grant_id = grants[0]["id"].as_str().unwrap().to_owned();
    assert!(w.run(&["grant", "revoke", &grant_id]).status.success());
    // The revocation is audited as the admin API's is: the change and a grant.revoked.
    let revoked = w.json(&["audit", "list", "--realm", "default", "--kind", "grant.revoked", "--json"]);
    let revoked = revoked.as_array().unwrap();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["action"], "admin", "{revoked:?}");
    assert_eq!(revoked[0]["client_id"], id.as_str(), "{revoked:?}");
    assert_eq!(revoked[0]["target"], grant_id.as_str(), "{revoked:?}");
    let r = http
        .post(format!("{base}/realms/default/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the revoked grant's refresh token is dead");

    let out = with_stdin(
        &w,
        &["user", "set-password", "--realm", "default", "alice", "--password-stdin"],
        "a new long password\n",
    );
    assert!(out.status.success());
    assert_eq!(login("correct horse battery").await.status(), 400);
    assert_eq!(login("a new long password").await.status(), 200);
    assert!(w.run(&["user", "disable", "--realm", "default", "alice"]).status.success());
    assert_eq!(login("a new long password").await.status(), 400);
    assert!(w.run(&["user", "delete", "--realm", "default", "alice"]).status.success());
    w.refused(&["user", "show", "--realm", "default", "alice"], "does not exist");
    let _ = server.0.kill();
}

#[tokio::test]
async fn user_unlock_clears_a_sign_in_lock() {
    let w = Workspace::new();
    let out = with_stdin(
        &w,
        &["user", "create", "--realm", "default", "--username", "alice", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c = w.json(&[
        "client",
        "create",
        "--realm",
        "default",
        "--name",
        "app",
        "--grant-types",
        "password",
        "--scope",
        "a",
        "--json",
    ]);
    let (id, secret) = (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned());
    let (mut server, base) = serve(&w);
    let http = reqwest::Client::new();
    let login = async |password: &str| -> Value {
        http.post(format!("{base}/realms/default/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "password"), ("username", "alice"), ("password", password)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    for i in 0..10 {
        assert_eq!(login(&format!("wrong guess {i}")).await["error"], "invalid_grant");
    }
    let locked = login("correct horse battery").await;
    assert!(locked["error_description"].as_str().unwrap().contains("too many"), "{locked}");
    let unlocked = w.json(&["user", "unlock", "--realm", "default", "ALICE", "--json"]);
    assert_eq!(unlocked["username"], "alice");
    assert_eq!(unlocked["cleared_counters"], 2, "{unlocked}");
    let tokens = login("correct horse battery").await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    w.refused(&["user", "unlock", "--realm", "default", "nobody"], "does not exist");
    let _ = server.0.kill();
}

/// `audit list` reads what a running server recorded: filtered by kind and time, as
/// JSON or lines; bad input is one line naming it.
#[tokio::test]
async fn audit_list_shows_what_the_server_recorded() {
    let w = Workspace::new();
    let c = w.json(&["client", "create", "--realm", "default", "--name", "svc", "--json"]);
    let (id, secret) = (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned());
    let (mut server, base) = serve(&w);
    let http = reqwest::Client::new();
    for s in [secret.as_str(), "wrong secret"] {
        http.post(format!("{base}/realms/default/oauth/token"))
            .basic_auth(&id, Some(s))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
    }
    // The server writes its events in batches, a few milliseconds later.
    let mut events = Value::Null;
    for _ in 0..100 {
        events = w.json(&["audit", "list", "--realm", "default", "--since", "1h", "--json"]);
        if events.as_array().unwrap().len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The first is `client create`'s own (the CLI audits its changes).
    assert_eq!(kinds, ["admin.change", "token.issued", "client_auth.failed"], "{events}");
    assert_eq!(events[1]["grant_type"], "client_credentials");
    assert_eq!(events[2]["client_id"], id.as_str());
    assert_eq!(events[2]["address"], "127.0.0.1");
    assert!(!events.to_string().contains(&secret));
    let failed = w.json(&["audit", "list", "--realm", "default", "--kind", "client_auth.failed", "--json"]);
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
    let lines = w.run(&["audit", "list", "--realm", "default"]);
    assert!(String::from_utf8_lossy(&lines.stdout).contains("client_auth.failed"));
    let after = events[1]["id"].as_str().unwrap();
    let rest = w.json(&["audit", "list", "--realm", "default", "--after", after, "--json"]);
    assert_eq!(rest.as_array().unwrap().len(), 1, "{rest}");
    w.refused(&["audit", "list", "--realm", "default", "--kind", "token"], "--kind");
    w.refused(&["audit", "list", "--realm", "default", "--since", "yesterday"], "--since");
    w.refused(&["audit", "list", "--realm", "default", "--after", "nope"], "--after");
    w.refused(&["audit", "list", "--realm", "nowhere"], "does not exist");
    let _ = server.0.kill();
}
