//! `/metrics`: served on its own address only, counters that move with what the
//! server does, no secret in any label, and the Grafana dashboard in `docs/` naming
//! only metrics a live server exports.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::clock::Clock;
use serde_json::Value;

use crate::harness::{Peer, TestServer};

async fn scrape(s: &TestServer) -> String {
    let (_, base) = s.metrics.as_ref().expect("a server started with metrics");
    let r = s.http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    r.text().await.unwrap()
}

/// The value of the sample `name{labels}` (labels exactly as exported, in order), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

/// Scrapes until `series` reaches `at_least` (table sizes and the purge run on timers).
async fn wait_for(s: &TestServer, series: &str, at_least: f64) -> String {
    for _ in 0..100 {
        let text = scrape(s).await;
        if sample(&text, series).is_some_and(|v| v >= at_least) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never reached {at_least}:\n{}", scrape(s).await);
}

/// Every metric name a scrape shows: sample names, and for each `# TYPE` the names
/// its samples take (a counter `_total`; a histogram `_bucket`, `_sum`, `_count`).
/// A labelled family shows only once it has a series, so callers drive every counter
/// first.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        } else if !line.starts_with('#') && !line.is_empty() {
            names.insert(line.split(['{', ' ']).next().unwrap().to_owned());
        }
    }
    names
}

/// Every label value of every sample.
fn label_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(labels) = line.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map(|(l, _)| l) else {
            continue;
        };
        for pair in labels.split("\",") {
            let (_, value) = pair.split_once("=\"").unwrap();
            values.push(value.trim_end_matches('"').to_owned());
        }
    }
    values
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_not_on_the_public_port() {
    let s = TestServer::start_with_metrics().await;
    let public = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(public.status(), 404, "the public port has no /metrics");
    let text = scrape(&s).await;
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    assert!(text.contains("# TYPE portcullis_http_request_duration_seconds histogram"));
    // Gauges read at each scrape, from SQLite's pools and writer queue.
    assert!(sample(&text, "portcullis_db_pool_max_connections{pool=\"write\"}").is_some_and(|v| v == 1.0), "{text}");
    assert!(sample(&text, "portcullis_db_pool_connections{pool=\"read\"}").is_some(), "{text}");
    assert_eq!(sample(&text, "portcullis_db_queue_depth{queue=\"sqlite_writer\"}"), Some(0.0), "{text}");
    assert!(sample(&text, "portcullis_db_queue_capacity{queue=\"sqlite_writer\"}").is_some_and(|v| v > 0.0));
    // Only /metrics is served there.
    let (_, base) = s.metrics.as_ref().unwrap();
    assert_eq!(s.http.get(format!("{base}/realms/default/oauth/token")).send().await.unwrap().status(), 404);
}

/// Drives every event counted: client_credentials tokens in realm `shop`, a failed
/// sign-in, a password grant, a refresh and its reuse in `default`, then a purge pass
/// an hour after everything expired. Returns the scrape after the purge, and the
/// secrets and identifiers the server was sent.
async fn drive_every_counter(s: &TestServer) -> (String, Vec<String>) {
    s.admin().create_realm("shop", &Default::default()).await.unwrap();
    let m2m = s.cc_client("shop", "m2m", "a").await;
    let access = s.token("shop", &m2m, None).await;
    s.token("shop", &m2m, None).await;
    let app = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let wrong = [("grant_type", "password"), ("username", "alice"), ("password", "not her password")];
    assert_eq!(s.post_form(&s.url("default", "/oauth/token"), Some(&app), &wrong).await.status(), 400);
    let login = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&app), &login).await;
    let refresh = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s.refresh("default", &app, &refresh, None).await.status(), 200);
    s.clock.advance(3600);
    assert_eq!(s.refresh("default", &app, &refresh, None).await.status(), 400, "reuse");
    wait_for(s, "portcullis_table_rows{table=\"tokens\"}", 4.0).await;

    // The purge counts what it deletes: the expired tokens, an hour later.
    let (registry, _) = s.metrics.as_ref().unwrap();
    s.clock.advance(7200);
    let clock: Arc<dyn Clock> = s.clock.clone();
    let purge = tokio::spawn(portcullis_core::purge::run_counted(
        s.store.clone(),
        clock,
        Duration::from_secs(3600),
        500,
        registry.clone(),
    ));
    let text = wait_for(s, "portcullis_purge_passes_total{outcome=\"ok\"}", 1.0).await;
    purge.abort();
    let sent = [access, refresh, m2m.id, m2m.secret, app.id, app.secret, "alice".into(), "not her password".into()];
    (text, sent.into())
}

#[tokio::test]
async fn counters_move_with_requests_tokens_sign_in_failures_reuse_and_the_purge() {
    let s = TestServer::start_with_metrics().await;
    let (text, _) = drive_every_counter(&s).await;
    let value = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(value("portcullis_tokens_issued_total{realm=\"shop\",grant_type=\"client_credentials\"}"), 2.0);
    assert_eq!(value("portcullis_tokens_issued_total{realm=\"default\",grant_type=\"password\"}"), 1.0);
    assert_eq!(value("portcullis_tokens_issued_total{realm=\"default\",grant_type=\"refresh_token\"}"), 1.0);
    assert_eq!(value("portcullis_sign_in_failures_total{realm=\"default\",reason=\"bad_credentials\"}"), 1.0);
    assert_eq!(value("portcullis_refresh_token_reuse_total{realm=\"default\"}"), 1.0);
    let token_endpoint = "endpoint=\"/realms/{realm}/oauth/token\"";
    assert_eq!(value(&format!("portcullis_http_requests_total{{{token_endpoint},status=\"200\"}}")), 4.0);
    assert_eq!(value(&format!("portcullis_http_requests_total{{{token_endpoint},status=\"400\"}}")), 2.0);
    assert_eq!(value(&format!("portcullis_http_request_duration_seconds_count{{{token_endpoint}}}")), 6.0);
    assert_eq!(value(&format!("portcullis_http_request_duration_seconds_bucket{{le=\"+Inf\",{token_endpoint}}}")), 6.0);
    assert!(value("portcullis_table_rows{table=\"grants\"}") >= 1.0);
    assert!(sample(&text, "portcullis_purged_rows_total{table=\"tokens\"}").is_some_and(|n| n >= 2.0), "{text}");
}

/// Label values are route templates, statuses, realm names and fixed words: a token,
/// secret, password, username or client id sent to the server never shows, not even
/// in a path no route matches.
#[tokio::test]
async fn no_secret_or_identifier_reaches_a_label() {
    let s = TestServer::start_with_metrics().await;
    let (_, mut sent) = drive_every_counter(&s).await;
    let c = s.cc_client("default", "m2m", "a").await;
    let token = s.token("default", &c, None).await;
    s.introspect("default", &c, &token).await;
    let app = s.password_client("default", "second app").await;
    let wrong = [("grant_type", "password"), ("username", "bob"), ("password", "hunter2 hunter2")];
    assert_eq!(s.post_form(&s.url("default", "/oauth/token"), Some(&app), &wrong).await.status(), 400);
    let raw = format!("{}/realms/default/oauth/token/{token}", s.base);
    assert_eq!(s.http.get(raw).send().await.unwrap().status(), 404);
    let raw = format!("{}/realms/default/oauth/introspect?token={token}", s.base);
    assert_eq!(s.http.get(raw).send().await.unwrap().status(), 405);
    assert_eq!(s.http.get(format!("{}/realms/nosuchrealm/jwks.json", s.base)).send().await.unwrap().status(), 404);

    let text = scrape(&s).await;
    sent.extend([token, c.secret, c.id, app.secret, app.id, "bob".into(), "hunter2".into(), "nosuchrealm".into()]);
    for secret in &sent {
        assert!(!text.contains(secret.as_str()), "{secret} is in the metrics:\n{text}");
    }
    let values = label_values(&text);
    assert!(values.iter().any(|v| v == "unmatched"), "the raw path counts as unmatched");
    for v in &values {
        let allowed = v.starts_with('/') && !v.contains("/default/")
            || v.chars().all(|c| c.is_ascii_alphanumeric() || "_.+-:".contains(c));
        assert!(allowed, "unexpected label value {v}");
    }
}

/// `docs/grafana-dashboard.json` is valid JSON, and every `portcullis_*` metric its
/// queries name is one a live server exports.
#[tokio::test]
async fn the_grafana_dashboard_names_only_exported_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "the dashboard has its panels' queries");
    let mut referenced = BTreeSet::new();
    for q in &queries {
        let mut rest = q.as_str();
        while let Some(at) = rest.find("portcullis_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            referenced.insert(name);
        }
    }
    let s = TestServer::start_with_metrics().await;
    let (text, _) = drive_every_counter(&s).await;
    let exported = exported_names(&text);
    let missing: Vec<_> = referenced.difference(&exported).collect();
    assert!(missing.is_empty(), "the dashboard names metrics no server exports: {missing:?}\nexported: {exported:?}");
    for family in ["portcullis_tokens_issued_total", "portcullis_db_queue_depth", "portcullis_table_rows"] {
        assert!(referenced.contains(family), "the dashboard shows {family}");
    }
}

fn collect_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "query", Value::String(q)) => out.push(q.clone()),
                    _ => collect_queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}

/// The metrics listener of a server on PostgreSQL: its pool and group-commit queues,
/// the counters of what it served, and its row counts (from PostgreSQL's statistics).
/// A client that never finishes its request head is cut off as on the public port.
#[tokio::test]
async fn metrics_are_served_on_postgres_and_a_slow_head_is_cut_off() {
    let peer = Peer { metrics: true, ..Peer::default() };
    crate::harness::on_postgres_with("metrics", peer, |s| async move {
        let c = s.cc_client("default", "m2m", "a").await;
        s.token("default", &c, None).await;
        s.token("default", &c, None).await;
        let text = wait_for(&s, "portcullis_table_rows{table=\"tokens\"}", 0.0).await;
        let value = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert_eq!(value("portcullis_tokens_issued_total{realm=\"default\",grant_type=\"client_credentials\"}"), 2.0);
        // Two pools on PostgreSQL (the batch statements' own), and its group-commit
        // queues instead of a writer thread; the batches of two tokens used the hot pool.
        assert_eq!(value("portcullis_db_pool_max_connections{pool=\"main\"}"), 8.0);
        assert_eq!(value("portcullis_db_pool_max_connections{pool=\"hot\"}"), 14.0);
        assert!(value("portcullis_db_pool_connections{pool=\"hot\"}") >= 1.0);
        assert!(value("portcullis_db_queue_capacity{queue=\"token_write\"}") > 0.0);
        assert!(sample(&text, "portcullis_db_queue_depth{queue=\"sqlite_writer\"}").is_none(), "{text}");
        let token_endpoint = "endpoint=\"/realms/{realm}/oauth/token\"";
        assert_eq!(value(&format!("portcullis_http_requests_total{{{token_endpoint},status=\"200\"}}")), 2.0);

        let (_, base) = s.metrics.as_ref().unwrap();
        slow_head_is_cut_off(base.trim_start_matches("http://")).await;
        assert!(scrape(&s).await.ends_with("# EOF\n"), "others are still served");
    })
    .await;
}

/// A connection that sends half a request head and then nothing is closed by the
/// server (the harness's header read timeout is 2 s), with nothing or a 408.
async fn slow_head_is_cut_off(addr: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the metrics listener kept a slowloris connection open");
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}
