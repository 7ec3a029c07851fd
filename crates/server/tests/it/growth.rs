//! Storage that does not only grow (issue 10): stored inputs have length limits,
//! pending authorization requests are capped per browser session and per address, and
//! the background purge empties expired rows while the server serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use portcullis_core::admin::{AdminError, ClientSpec, UserSpec};
use portcullis_core::authorize::flow::REQUEST_TTL;
use portcullis_core::clock::Clock;
use portcullis_core::store::PendingLimits;
use portcullis_store::testing::{FILLED_TABLES, count_rows, fill_expired};

use crate::browser::{Browser, REDIRECT, authorize_url, location, param, redirect_params};
use crate::harness::{TestClient, TestServer, on_postgres};

fn invalid<T>(r: Result<T, AdminError>) -> bool {
    matches!(r, Err(AdminError::Invalid(_)))
}

async fn pending(s: &TestServer) -> (i64, i64) {
    (count_rows(&s.database_url, "sessions").await, count_rows(&s.database_url, "authorization_requests").await)
}

#[tokio::test]
async fn over_long_authorization_parameters_are_refused_before_anything_is_stored() {
    let s = TestServer::start().await;
    let client = s.code_client("default", "App", false).await;
    let base = [("response_type", "code"), ("client_id", client.id.as_str()), ("redirect_uri", REDIRECT)];
    let b = Browser::new();

    // Until the client and redirect URI are trusted: a page, never a redirect.
    let long_id = "c".repeat(256);
    let long_uri = format!("{REDIRECT}?{}", "u".repeat(2000));
    for (q, what) in [
        (
            [("response_type", "code"), ("client_id", long_id.as_str()), ("redirect_uri", REDIRECT)],
            "client_id is longer than 255 bytes",
        ),
        (
            [("response_type", "code"), ("client_id", client.id.as_str()), ("redirect_uri", long_uri.as_str())],
            "redirect_uri is longer than 2000 bytes",
        ),
    ] {
        let r = b.get(&authorize_url(&s, "default", &q)).await;
        assert_eq!(r.status(), 400, "{what}");
        assert!(r.headers().get("location").is_none() && r.headers().get("set-cookie").is_none());
        assert!(r.text().await.unwrap().contains(what), "{what}");
    }
    // After: an error redirect to the client, naming the parameter and its limit.
    for (name, len, limit) in [
        ("state", 4097, 4096),
        ("scope", 2049, 2048),
        ("nonce", 513, 512),
        ("code_challenge", 129, 128),
        ("login_hint", 256, 255),
    ] {
        let value = "a".repeat(len);
        let mut q = base.to_vec();
        if name != "state" {
            q.push(("state", "s"));
        }
        q.push((name, &value));
        let r = b.get(&authorize_url(&s, "default", &q)).await;
        assert_eq!(r.status(), 303, "{name}");
        assert!(r.headers().get("set-cookie").is_none(), "{name}");
        let params = redirect_params(&location(&r));
        assert_eq!(param(&params, "error").as_deref(), Some("invalid_request"), "{name}");
        assert_eq!(param(&params, "error_description").unwrap(), format!("{name} is longer than {limit} bytes"));
        assert_eq!(param(&params, "state").is_some(), name != "state", "an over-long state is not echoed");
    }
    assert_eq!(pending(&s).await, (0, 0), "nothing stored");

    // At the limit, in bytes: a 4096-byte state of `&`, `#` and Unicode is kept whole.
    let state = "&#é".repeat(1024);
    assert_eq!(state.len(), 4096);
    let mut q = base.to_vec();
    q.push(("state", &state));
    assert_eq!(b.get(&authorize_url(&s, "default", &q)).await.status(), 200);
    assert_eq!(pending(&s).await, (1, 1));
}

#[tokio::test]
async fn a_session_keeps_its_newest_pending_requests() {
    let limits = PendingLimits { per_session: 3, per_address: 0 };
    let s = TestServer::start_configured(|s| s, |a| a.with_pending_limits(limits)).await;
    let client = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let q = [("response_type", "code"), ("client_id", client.id.as_str()), ("redirect_uri", REDIRECT)];
    let mut pages = Vec::new();
    for _ in 0..5 {
        let r = b.get(&authorize_url(&s, "default", &q)).await;
        assert_eq!(r.status(), 200, "a user with many tabs is never refused");
        pages.push(r.text().await.unwrap());
    }
    assert_eq!(pending(&s).await, (1, 3));
    let oldest = b.login(&s, "default", &pages[0], "alice", "correct horse battery").await;
    assert_eq!(oldest.status(), 400);
    assert!(oldest.text().await.unwrap().contains("expired"));
    let newest = b.login(&s, "default", &pages[4], "alice", "correct horse battery").await;
    assert_eq!(newest.status(), 303, "the newest tab signs in");
}

#[tokio::test]
async fn an_address_with_too_many_pending_requests_gets_429_and_stores_nothing() {
    let limits = PendingLimits { per_session: 10, per_address: 3 };
    let s = TestServer::start_configured(|s| s, |a| a.with_pending_limits(limits)).await;
    let client = s.code_client("default", "App", false).await;
    let q = [("response_type", "code"), ("client_id", client.id.as_str()), ("redirect_uri", REDIRECT)];
    let url = authorize_url(&s, "default", &q);
    for _ in 0..3 {
        assert_eq!(Browser::new().get(&url).await.status(), 200);
    }
    let r = Browser::new().get(&url).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("set-cookie").is_none() && r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("too many sign-in requests are pending"));
    assert_eq!(pending(&s).await, (3, 3), "nothing stored");
    // Expired requests no longer count.
    s.clock.advance(REQUEST_TTL);
    assert_eq!(Browser::new().get(&url).await.status(), 200);
}

/// A signed-in browser asking again for what it approved gets its code without a
/// pending request being stored: at its address's cap (one page left open) it is not
/// refused, and the open page stays valid.
#[tokio::test]
async fn an_approved_sign_in_stores_no_pending_request() {
    let limits = PendingLimits { per_session: 1, per_address: 1 };
    let s = TestServer::start_configured(|s| s, |a| a.with_pending_limits(limits)).await;
    let approved = s.code_client("default", "Approved App", false).await;
    let other = s.code_client("default", "Other App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let b = Browser::new();
    let q = [("response_type", "code"), ("client_id", approved.id.as_str()), ("redirect_uri", REDIRECT)];
    b.authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    let oq = [("response_type", "code"), ("client_id", other.id.as_str()), ("redirect_uri", REDIRECT)];
    let r = b.get(&authorize_url(&s, "default", &oq)).await;
    assert_eq!(r.status(), 200, "the other client's consent page");
    let open_page = r.text().await.unwrap();
    assert_eq!(pending(&s).await, (1, 1));
    for _ in 0..3 {
        let r = b.get(&authorize_url(&s, "default", &q)).await;
        assert_eq!(r.status(), 303, "approved: straight back, not refused at the cap");
        assert!(param(&redirect_params(&location(&r)), "code").is_some());
    }
    assert_eq!(pending(&s).await, (1, 1), "still only the open page");
    let r = b.decide(&s, "default", &open_page, "allow").await;
    assert_eq!(r.status(), 303);
    assert!(param(&redirect_params(&location(&r)), "code").is_some(), "the open page still works");
}

#[tokio::test]
async fn admin_inputs_have_length_limits() {
    let s = TestServer::start().await;
    let user = |name: String| UserSpec { username: Some(name), ..Default::default() };
    let admin = s.admin();
    assert!(invalid(admin.create_user("default", &user("u".repeat(256)), None).await));
    assert!(invalid(admin.create_user("default", &user("é".repeat(128)), None).await), "bytes, not characters");
    let ok = admin.create_user("default", &user("u".repeat(255)), None).await.unwrap();
    assert!(invalid(admin.update_user("default", &ok.id, &user("v".repeat(256))).await));
    assert_eq!(admin.user("default", &ok.id).await.unwrap().username, "u".repeat(255));

    let client = |name: String, uris: Vec<String>| ClientSpec {
        name: Some(name),
        public: true,
        redirect_uris: Some(uris),
        ..Default::default()
    };
    assert!(invalid(admin.create_client("default", &client("n".repeat(256), vec![REDIRECT.into()])).await));
    let many = (0..51).map(|i| format!("{REDIRECT}{i}")).collect();
    assert!(invalid(admin.create_client("default", &client("many".into(), many)).await));
    let long = vec![format!("{REDIRECT}?{}", "q".repeat(2000))];
    assert!(invalid(admin.create_client("default", &client("long".into(), long)).await));
    assert!(s.store.list_clients("default").await.unwrap().is_empty(), "nothing stored");
    admin.create_client("default", &client("n".repeat(255), vec![REDIRECT.into()])).await.unwrap();
}

/// Grows every purged table past 100,000 expired rows, then lets the background task
/// purge them while clients get and introspect tokens: every request succeeds, the
/// expired rows all go, and live tokens stay active.
async fn purge_while_serving(s: TestServer) {
    const PER_TABLE: i64 = 30_000;
    let client = s.cc_client("default", "svc", "read").await;
    let rs = s
        .client_with(
            "default",
            ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() },
        )
        .await;
    let mut live = Vec::new();
    for _ in 0..20 {
        live.push(s.token("default", &client, None).await);
    }
    let expired_at = s.clock.now() - 3600;
    fill_expired(&s.database_url, "default", &client.id, PER_TABLE, expired_at).await;
    let mut total = 0;
    for table in FILLED_TABLES {
        total += count_rows(&s.database_url, table).await;
    }
    assert!(total > 100_000, "{total}");

    let s = Arc::new(s);
    let (stop, served) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let load = tokio::spawn(serve_load(s.clone(), client.clone(), rs.clone(), stop.clone(), served.clone()));
    let purge = tokio::spawn(portcullis_core::purge::run(
        s.store.clone(),
        s.clock.clone(),
        Duration::from_millis(100),
        portcullis_core::purge::DEFAULT_BATCH_SIZE,
    ));
    // Polled, not timed: the bound only keeps a broken purge from hanging the suite.
    let mut left = i64::MAX;
    for _ in 0..1200 {
        left = 0;
        for table in ["sessions", "authorization_requests", "sign_in_failures"] {
            left += count_rows(&s.database_url, table).await;
        }
        if left == 0 && count_rows(&s.database_url, "tokens").await < PER_TABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let issued = load.await.unwrap();
    purge.abort();
    assert_eq!(left, 0, "expired sessions, requests and counters remain");
    // What is left is exactly the live tokens: the 20 and those issued under load.
    let tokens = count_rows(&s.database_url, "tokens").await as u64;
    assert_eq!(tokens, 20 + issued, "every expired token went, every live one stayed");
    assert!(served.load(Ordering::SeqCst) > 0, "requests were served during the purge");
    for token in &live {
        assert!(s.is_active("default", &rs, token).await, "a live token was purged");
    }
}

/// Gets and introspects tokens until told to stop, asserting each answer; returns how
/// many tokens it got.
async fn serve_load(
    s: Arc<TestServer>,
    client: TestClient,
    rs: TestClient,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
) -> u64 {
    let mut issued = 0;
    while !stop.load(Ordering::SeqCst) {
        let token = s.token("default", &client, None).await;
        issued += 1;
        assert!(s.is_active("default", &rs, &token).await);
        served.fetch_add(2, Ordering::SeqCst);
    }
    issued
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_purge_empties_expired_rows_while_serving_on_sqlite() {
    purge_while_serving(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_purge_empties_expired_rows_while_serving_on_postgres() {
    on_postgres("purge_while_serving", purge_while_serving).await;
}
