//! SIGTERM under load (SECURITY-CASES R6; CONTRACT: "stop accepting, finish in-flight
//! requests, exit 0"): every request the server accepted gets its whole answer, new
//! connections are refused from the moment shutdown starts, the process exits 0 in
//! bounded time, and after a restart every answered token is active and no token was
//! written whose answer was lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::load::{self, Accounts, Kind, PASSWORD, Seen};
use crate::{Server, Workspace, serve, with_stdin};

/// The answers the load gets before SIGTERM.
const ANSWERS_BEFORE_SIGTERM: usize = 150;
/// How long the server may take to exit once its last request is answered.
const EXIT_BOUND: Duration = Duration::from_secs(15);

const CLIENTS: [Kind; 8] = [
    Kind::ClientCredentials,
    Kind::ClientCredentials,
    Kind::ClientCredentials,
    Kind::Rotation,
    Kind::Rotation,
    Kind::Rotation,
    Kind::CodeExchange,
    Kind::CodeExchange,
];

const BODY: &str = "grant_type=client_credentials";

/// A token request the server has accepted and is handling: it asked for the body
/// (`100 Continue`), which is held back until `finish_held_request`.
fn start_held_request(addr: &str, (id, secret): &(String, String)) -> TcpStream {
    let mut conn = TcpStream::connect(addr).unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let head = format!(
        "POST /realms/default/oauth/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        BODY.len(),
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8];
    while !interim.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte).unwrap();
        interim.push(byte[0]);
    }
    let interim = String::from_utf8(interim).unwrap();
    assert!(interim.starts_with("HTTP/1.1 100"), "the handler reads the body: {interim}");
    conn
}

/// Sends the body and reads the whole answer: its status and JSON body.
fn finish_held_request(mut conn: TcpStream) -> (u16, Value) {
    conn.write_all(BODY.as_bytes()).unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    assert!(!raw.is_empty(), "the request accepted before shutdown got no answer");
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.to_lowercase().contains("connection: close"), "shutting down, the server closes: {head}");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Waits for the log line `message`, as the server writes it.
fn wait_for_log(server: &Server, message: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = server.1.recv_timeout(left).unwrap_or_else(|_| panic!("no log line '{message}'"));
        if line["message"] == message {
            return;
        }
    }
}

/// An app's API key and a customer who signs in through it, returning the key's id.
fn customer_through_api_key(w: &Workspace) -> (String, (String, String)) {
    let app = w.json(&["app", "create", "--realm", "default", "--name", "shop", "--json"]);
    let key = w.json(&["apikey", "create", "--realm", "default", "--app", "shop", "--json"]);
    let args = ["user", "create", "--realm", "default", "--username", "bob", "--kind", "customer", "--password-stdin"];
    let out = with_stdin(w, &args, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let credentials = (app["app_id"].as_str().unwrap().to_owned(), key["key"].as_str().unwrap().to_owned());
    (key["id"].as_str().unwrap().to_owned(), credentials)
}

async fn sigterm_under_load_answers_every_accepted_request(w: Workspace) {
    let accounts = Accounts::create(&w);
    let (key_id, (app_id, api_key)) = customer_through_api_key(&w);
    let (mut server, base) = serve(&w);
    let addr = base.trim_start_matches("http://").to_owned();

    let progress = Arc::new(load::Progress::default());
    let load = {
        let (base, accounts, progress) = (base.clone(), accounts.clone(), progress.clone());
        tokio::spawn(async move { load::run(&base, &accounts, &CLIENTS, progress).await })
    };
    let started = Instant::now();
    while !progress.reached(ANSWERS_BEFORE_SIGTERM) {
        assert!(started.elapsed() < Duration::from_secs(60), "the load stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A use of the API key, recorded in memory and written by the next flush: at
    // the latest, the one at shutdown (the periodic one is seconds away).
    let customer: Value = reqwest::Client::new()
        .post(format!("{base}/realms/default/oauth/token"))
        .basic_auth(&app_id, Some(&api_key))
        .form(&[("grant_type", "password"), ("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer_tokens: Vec<String> =
        ["access_token", "refresh_token"].iter().filter_map(|t| customer[t].as_str().map(String::from)).collect();
    assert!(!customer_tokens.is_empty(), "{customer}");
    let held = start_held_request(&addr, &accounts.machine);
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    wait_for_log(&server, "stopped accepting connections; finishing in-flight requests");
    let refused = TcpStream::connect(&addr);
    assert!(refused.is_err(), "a new connection was accepted after shutdown began");
    assert_eq!(server.0.try_wait().unwrap(), None, "the held request keeps the server up");

    let seen: Vec<Seen> = load.await.unwrap();
    let (status, body) = finish_held_request(held);
    assert_eq!(status, 200, "the request accepted before SIGTERM is answered: {body}");
    let finished = Instant::now();
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(finished.elapsed() < EXIT_BOUND, "serve did not exit within {EXIT_BOUND:?} of its last answer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "serve exited with {exit}");
    let key = w.json(&["apikey", "show", "--realm", "default", &key_id, "--json"]);
    assert!(key["last_used_at"].is_i64(), "the API key's last use was not flushed at shutdown: {key}");
    for s in &seen {
        assert!(s.unexpected.is_empty(), "{:?}", s.unexpected);
        assert!(!s.cut_off, "an answer was cut off");
    }
    assert!(seen.iter().any(|s| !s.rotates && !s.refresh.is_empty()), "no code was exchanged");

    // Every request either got its whole answer or was never run: the answered
    // tokens are all active, the refresh tokens the clients hold all unspent, and
    // the database holds no token beyond those answered.
    let (_restarted, base) = serve(&w);
    let mut must: Vec<String> = seen.iter().flat_map(|s| s.access.iter().cloned()).collect();
    must.extend(seen.iter().flat_map(Seen::unspent_refresh).cloned());
    must.push(body["access_token"].as_str().unwrap().to_owned());
    must.extend(customer_tokens.iter().cloned());
    let answers = load::introspect_all(&base, &accounts, &must).await;
    let lost = load::inactive(&answers);
    assert!(lost.is_empty(), "{} of {} answered tokens inactive after the restart", lost.len(), must.len());
    let answered: usize =
        seen.iter().map(|s| s.access.len() + s.refresh.len()).sum::<usize>() + 1 + customer_tokens.len();
    let stored = portcullis_store::testing::row_counts(&w.db()).await["tokens"];
    assert_eq!(stored as usize, answered, "tokens written whose answers never reached their clients");
    let broken = portcullis_store::testing::half_written_rows(&w.db()).await;
    assert!(broken.is_empty(), "{broken:?}");
}

#[tokio::test]
async fn sigterm_under_load_on_sqlite_answers_every_accepted_request() {
    sigterm_under_load_answers_every_accepted_request(Workspace::new()).await;
}

#[tokio::test]
async fn sigterm_under_load_on_postgres_answers_every_accepted_request() {
    let Some(db) = portcullis_store::testing::TestDatabase::create("sigterm_under_load").await else { return };
    let outcome = tokio::spawn(sigterm_under_load_answers_every_accepted_request(Workspace::on(&db.url))).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
