//! The background purge's store side: expired rows go, live ones stay, and a grant
//! goes only once nothing names it; and the caps on pending authorization requests.

use std::sync::Arc;

use portcullis_core::model::{AuthorizationCode, AuthorizationRequest, TokenKind, TokenRecord};
use portcullis_core::store::{FailureKey, PendingLimits, PurgeCutoffs, Store};

use crate::fixtures::{self, NOW};

const ALL: u32 = 10_000;

/// Everything that expired before `NOW` goes; counters whose window began before
/// `NOW - 500`.
fn at_now() -> PurgeCutoffs {
    PurgeCutoffs { expired_before: NOW, window_started_before: NOW - 500 }
}

async fn setup(store: &Arc<dyn Store>) {
    fixtures::create_realm(store, "acme").await;
    fixtures::create_client(store, "acme", "web").await;
}

fn token_expiring(expires_at: Option<i64>) -> TokenRecord {
    TokenRecord { expires_at, ..fixtures::bare_token("acme", "web") }
}

pub async fn purge_deletes_expired_tokens_and_keeps_the_rest(store: Arc<dyn Store>) {
    setup(&store).await;
    let expired = token_expiring(Some(NOW - 1));
    let live = token_expiring(Some(NOW + 1));
    let forever = token_expiring(None);
    let revoked_live = TokenRecord { revoked_at: Some(NOW - 100), ..token_expiring(Some(NOW + 3600)) };
    let (grant, refresh) = fixtures::create_grant(&store, "acme", "web", "user-1").await;
    // A spent refresh token within its lifetime: reuse detection needs it.
    let spent = TokenRecord { used_at: Some(NOW - 30), ..fixtures::grant_token(&grant) };
    let spent_expired =
        TokenRecord { used_at: Some(NOW - 30), expires_at: Some(NOW - 5), ..fixtures::grant_token(&grant) };
    for t in [&expired, &live, &forever, &revoked_live] {
        store.insert_tokens(std::slice::from_ref(t)).await.unwrap();
    }
    store.insert_tokens(&[spent.clone(), spent_expired.clone()]).await.unwrap();

    let report = store.purge_expired(at_now(), ALL).await.unwrap();
    assert_eq!(report.get("tokens"), 2, "{report}");
    assert_eq!(report.get("grants"), 0, "{report}");
    for gone in [&expired, &spent_expired] {
        assert!(store.get_token(&gone.id).await.unwrap().is_none());
    }
    for kept in [&live, &forever, &revoked_live, &spent, &refresh] {
        assert_eq!(store.get_token(&kept.id).await.unwrap().expect("kept").record, *kept);
    }
    assert_eq!(store.purge_expired(at_now(), ALL).await.unwrap().total(), 0, "a second pass finds nothing");
}

pub async fn purge_deletes_a_grant_only_when_nothing_names_it(store: Arc<dyn Store>) {
    setup(&store).await;
    let access = |g: &portcullis_core::model::Grant, expires_at: i64| TokenRecord {
        kind: TokenKind::Access,
        expires_at: Some(expires_at),
        ..fixtures::grant_token(g)
    };
    let code =
        |g: &portcullis_core::model::Grant, expires_at: i64| AuthorizationCode { expires_at, ..fixtures::code(g) };
    // Revoked, with a live token: the token reads its revocation through the grant.
    let revoked_live = fixtures::grant("acme", "web", "u1");
    let revoked_live_token = access(&revoked_live, NOW + 600);
    store.create_grant(&revoked_live, &[revoked_live_token.clone(), access(&revoked_live, NOW - 1)]).await.unwrap();
    store.revoke_grant(&revoked_live.id, NOW - 50).await.unwrap();
    // Every token expired: nothing can come from it any more.
    let spent = fixtures::grant("acme", "web", "u2");
    store.create_grant(&spent, &[access(&spent, NOW - 1), access(&spent, NOW - 2)]).await.unwrap();
    let revoked_spent = fixtures::grant("acme", "web", "u3");
    store.create_grant(&revoked_spent, &[access(&revoked_spent, NOW - 1)]).await.unwrap();
    store.revoke_grant(&revoked_spent.id, NOW - 50).await.unwrap();
    // A live refresh token can still issue.
    let refreshing = fixtures::grant("acme", "web", "u4");
    store.create_grant(&refreshing, &[access(&refreshing, NOW - 1), fixtures::grant_token(&refreshing)]).await.unwrap();
    // A code not yet expired can still be redeemed; an expired one cannot.
    let mut request = fixtures::request("acme", "web");
    let pending = fixtures::grant("acme", "web", "u5");
    store.create_authorization_request(&request).await.unwrap();
    store.create_grant_with_code(&pending, &code(&pending, NOW + 30), Some(&request.id)).await.unwrap();
    let abandoned = fixtures::grant("acme", "web", "u6");
    let abandoned_code = code(&abandoned, NOW - 1);
    request.id = fixtures::new_id();
    store.create_authorization_request(&request).await.unwrap();
    store.create_grant_with_code(&abandoned, &abandoned_code, Some(&request.id)).await.unwrap();

    let report = store.purge_expired(at_now(), ALL).await.unwrap();
    assert_eq!(report.get("tokens"), 5, "{report}");
    assert_eq!(report.get("authorization_codes"), 1, "{report}");
    assert_eq!(report.get("grants"), 3, "{report}");
    for gone in [&spent, &revoked_spent, &abandoned] {
        assert!(store.get_grant(&gone.id).await.unwrap().is_none());
    }
    for kept in [&revoked_live, &refreshing, &pending] {
        assert!(store.get_grant(&kept.id).await.unwrap().is_some());
    }
    let still = store.get_token(&revoked_live_token.id).await.unwrap().unwrap();
    assert!(still.grant_revoked, "a purge must never bring a revoked family's token back");
    assert!(store.get_code(&abandoned_code.id).await.unwrap().is_none());
}

pub async fn purge_deletes_expired_sessions_requests_and_counters(store: Arc<dyn Store>) {
    setup(&store).await;
    let old_session = fixtures::session_expiring(NOW - 1);
    let live_session = fixtures::session_expiring(NOW + 1);
    store.create_session(&old_session).await.unwrap();
    store.create_session(&live_session).await.unwrap();
    let old_request = AuthorizationRequest { expires_at: NOW - 1, ..fixtures::request("acme", "web") };
    let live_request = AuthorizationRequest { expires_at: NOW + 1, ..fixtures::request("acme", "web") };
    store.create_authorization_request(&old_request).await.unwrap();
    store.create_authorization_request(&live_request).await.unwrap();
    let key = |account: &str| FailureKey { realm: "acme".into(), account: account.into(), address: "192.0.2.1".into() };
    store.reserve_sign_in_failure(&[(key("old"), 10)], NOW - 501, 60).await.unwrap().unwrap();
    store.reserve_sign_in_failure(&[(key("live"), 10)], NOW - 500, 60).await.unwrap().unwrap();

    let report = store.purge_expired(at_now(), ALL).await.unwrap();
    assert_eq!(report.get("sessions"), 1, "{report}");
    assert_eq!(report.get("authorization_requests"), 1, "{report}");
    assert_eq!(report.get("sign_in_failures"), 1, "{report}");
    assert!(store.get_session(&old_session.id_hash, NOW - 10).await.unwrap().is_none());
    assert!(store.get_session(&live_session.id_hash, NOW).await.unwrap().is_some());
    assert!(store.get_authorization_request(&old_request.id, NOW - 10).await.unwrap().is_none());
    assert!(store.get_authorization_request(&live_request.id, NOW).await.unwrap().is_some());
    // A counter still there counts on in its window; a purged one is gone.
    assert_eq!(store.sign_in_failures(&key("old"), NOW - 499, 10_000).await.unwrap(), 0);
    assert_eq!(store.sign_in_failures(&key("live"), NOW - 499, 10_000).await.unwrap(), 1);
}

pub async fn purge_deletes_at_most_a_batch_per_table_per_call(store: Arc<dyn Store>) {
    setup(&store).await;
    let tokens: Vec<_> = (0..25).map(|_| token_expiring(Some(NOW - 1))).collect();
    store.insert_tokens(&tokens).await.unwrap();
    let mut counts = Vec::new();
    loop {
        let n = store.purge_expired(at_now(), 10).await.unwrap().get("tokens");
        counts.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(counts, [10, 10, 5, 0]);
}

fn request_of(session: [u8; 32], n: u8, addr: Option<&str>) -> AuthorizationRequest {
    let mut id = [0; 16];
    id[15] = n;
    AuthorizationRequest {
        id,
        session_hash: session,
        client_addr: addr.map(str::to_owned),
        ..fixtures::request("acme", "web")
    }
}

pub async fn pending_requests_keep_the_newest_per_session(store: Arc<dyn Store>) {
    setup(&store).await;
    let limits = PendingLimits { per_session: 3, per_address: 0 };
    let (tabs, other) = ([1; 32], [2; 32]);
    let elsewhere = request_of(other, 100, None);
    assert!(store.create_capped_authorization_request(None, &elsewhere, NOW, limits).await.unwrap());
    for n in 1..=5 {
        assert!(
            store.create_capped_authorization_request(None, &request_of(tabs, n, None), NOW, limits).await.unwrap()
        );
    }
    for n in 1..=5 {
        let kept = store.get_authorization_request(&request_of(tabs, n, None).id, NOW).await.unwrap().is_some();
        assert_eq!(kept, n >= 3, "request {n}");
    }
    assert!(store.get_authorization_request(&elsewhere.id, NOW).await.unwrap().is_some());
}

pub async fn pending_requests_are_capped_per_address(store: Arc<dyn Store>) {
    setup(&store).await;
    let limits = PendingLimits { per_session: 10, per_address: 3 };
    let addr = Some("192.0.2.7");
    // An expired request does not count.
    let expired = AuthorizationRequest { expires_at: NOW, ..request_of([9; 32], 1, addr) };
    store.create_authorization_request(&expired).await.unwrap();
    for n in 2..=4 {
        let session = fixtures::session("acme", None);
        let r = request_of(session.id_hash, n, addr);
        assert!(store.create_capped_authorization_request(Some(&session), &r, NOW, limits).await.unwrap());
        assert!(store.get_session(&session.id_hash, NOW).await.unwrap().is_some());
    }
    let session = fixtures::session("acme", None);
    let refused = request_of(session.id_hash, 5, addr);
    assert!(!store.create_capped_authorization_request(Some(&session), &refused, NOW, limits).await.unwrap());
    assert!(store.get_authorization_request(&refused.id, NOW).await.unwrap().is_none(), "nothing stored");
    assert!(store.get_session(&session.id_hash, NOW).await.unwrap().is_none(), "nor the session");
    // Other addresses, requests without an address, and no cap at all are not limited.
    let other = request_of(session.id_hash, 6, Some("192.0.2.8"));
    assert!(store.create_capped_authorization_request(None, &other, NOW, limits).await.unwrap());
    assert!(store.create_capped_authorization_request(None, &request_of([3; 32], 7, None), NOW, limits).await.unwrap());
    let unlimited = PendingLimits { per_address: 0, ..limits };
    assert!(
        store.create_capped_authorization_request(None, &request_of([3; 32], 8, addr), NOW, unlimited).await.unwrap()
    );
}

/// The purge's statements read an index on a large table whatever PostgreSQL estimates:
/// here tables it has no statistics for (never analyzed, as a fast-growing table often
/// is, so it expects a third of the rows to qualify), nothing expired, under custom and
/// generic plans. A plan that scans the table reads all of it when nothing qualifies,
/// as `expires_at < $1 LIMIT $2` without `ORDER BY` once did on every pass
/// (bench/README.md, *The purge's plan*). PostgreSQL only: SQLite's planner has no
/// such estimates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_purge_plans_never_scan_a_large_table() {
    crate::harness::postgres("purge_plans", |url| async move {
        let store = crate::harness::open(&url).await;
        setup(&store).await;
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
        // 100,000 rows in each of the two tables that grow with traffic, none expired at
        // the cutoff 10,000, and no statistics: autovacuum would analyze them.
        for fill in [
            "ALTER TABLE tokens SET (autovacuum_enabled = false)",
            "ALTER TABLE audit_events SET (autovacuum_enabled = false)",
            "INSERT INTO tokens (id, realm, kind, client_id, subject, scope, permissions, test, issued_at, expires_at) \
             SELECT decode(md5(g::text), 'hex'), 'acme', 'access', 'web', 'u', '', '', false, 0, 1000000 + g \
             FROM generate_series(1, 100000) g",
            "INSERT INTO audit_events (id, realm, at, kind) \
             SELECT decode(md5(g::text), 'hex'), 'acme', 1000000 + g, 'token.issued' FROM generate_series(1, 100000) g",
        ] {
            sqlx::query(fill).execute(&mut conn).await.unwrap();
        }
        let large: Vec<_> = portcullis_store::testing::postgres_purge_statements()
            .into_iter()
            .filter(|(table, _)| ["tokens", "audit_events"].contains(table))
            .collect();
        assert_eq!(large.len(), 2);
        for mode in ["force_custom_plan", "force_generic_plan"] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET plan_cache_mode = {mode}")))
                .execute(&mut conn)
                .await
                .unwrap();
            for (table, sql) in &large {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE purge_batch AS {sql}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let plan: Vec<String> =
                    sqlx::query_scalar("EXPLAIN EXECUTE purge_batch(10000, 500)").fetch_all(&mut conn).await.unwrap();
                sqlx::raw_sql("DEALLOCATE purge_batch").execute(&mut conn).await.unwrap();
                let plan = plan.join("\n");
                assert!(!plan.contains("Seq Scan"), "{table}, {mode}: {sql}\n{plan}");
            }
        }
    })
    .await;
}
