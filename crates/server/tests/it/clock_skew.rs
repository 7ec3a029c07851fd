//! Clocks that disagree (SECURITY-CASES R9). Each instance judges every token by its
//! own clock; what a token carries was set by the clock of the instance that issued
//! it. So, with instances behind one URL on one database:
//!
//! - expiry is the stored `expires_at` (the issuer's clock plus the lifetime) read
//!   against the reader's clock: a token from an instance running Δ ahead lives Δ longer
//!   by the reader's clock, one from an instance running behind Δ less;
//! - a JWT whose `iat` (or `nbf`) is more than `LEEWAY_SECS` (30 s) ahead of the
//!   reader's clock is refused (RFC 8725 §3.10: do not trust claims from the future),
//!   so instances must agree within 30 s (run NTP); beyond it, the fast instance's
//!   JWTs read as inactive at the slow ones until the slow clock has caught up to
//!   within the leeway. Opaque tokens carry no `iat` and are unaffected;
//! - a clock stepping back is the same as running behind: nothing issued becomes
//!   live longer than its lifetime by the clock that issued it, and a step back of more
//!   than the leeway makes that instance's own recent JWTs inactive until its clock
//!   has caught up again (opaque tokens and refresh keep working).

use std::sync::Arc;

use portcullis_core::admin::ClientSpec;
use portcullis_core::clock::{Clock, ManualClock};
use portcullis_core::model::{GrantType, SigningAlg, TokenFormat};
use portcullis_core::token::jwt::LEEWAY_SECS;
use serde_json::Value;

use crate::harness::{Peer, TestClient, TestServer, on_postgres};

const TTL: i64 = 60;

/// A client_credentials client of `realm` whose tokens live `TTL` seconds, and a
/// resource server.
async fn clients(s: &TestServer, realm: &str) -> (TestClient, TestClient) {
    let svc = ClientSpec {
        name: Some("svc".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        access_ttl: Some(TTL),
        ..Default::default()
    };
    let rs = ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() };
    (s.client_with(realm, svc).await, s.client_with(realm, rs).await)
}

/// `a` and an instance behind its URL whose clock runs `ahead` seconds ahead of a's.
async fn skewed(a: &TestServer, ahead: i64) -> TestServer {
    let clock = Arc::new(ManualClock::new(a.clock.now() + ahead));
    a.peer(Peer { clock, public_url: Some(a.base.clone()), ..Peer::default() }).await
}

/// B runs 20 s ahead (within the leeway): its opaque and JWT tokens are active at A at
/// once, and A lets them expire at their `exp` by A's clock, 20 s after B does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skew_within_the_leeway_each_instance_judges_expiry_by_its_own_clock() {
    on_postgres("skew_within_the_leeway_each_instance_judges_expiry_by_its_own_clock", |a| async move {
        a.realm("jwt", TokenFormat::Jwt, SigningAlg::Es256).await;
        let b = skewed(&a, 20).await;
        for realm in ["default", "jwt"] {
            let (svc, rs) = clients(&a, realm).await;
            let t = b.token(realm, &svc, None).await;
            let at_a = a.introspect(realm, &rs, &t).await;
            assert_eq!(at_a["active"], true, "{realm}: {at_a}");
            assert_eq!(at_a["iat"], b.clock.now(), "the issuer's clock set iat");
            let exp = at_a["exp"].as_i64().unwrap();
            assert_eq!(exp, b.clock.now() + TTL);

            b.clock.set(exp);
            assert!(!b.is_active(realm, &rs, &t).await, "{realm}: expired at B by B's clock");
            a.clock.set(exp - 1);
            assert!(a.is_active(realm, &rs, &t).await, "{realm}: still live at A by A's clock");
            a.clock.set(exp);
            assert!(!a.is_active(realm, &rs, &t).await, "{realm}: expired at A at exp by A's clock");
            // Back to the 20 s skew for the next realm.
            a.clock.set(exp + 100);
            b.clock.set(exp + 120);
        }
    })
    .await;
}

/// B runs 2 minutes ahead (beyond the leeway): its opaque tokens are active at A, its
/// JWTs are not until A's clock is within the leeway of their `iat`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skew_beyond_the_leeway_makes_the_fast_instances_jwts_inactive_elsewhere() {
    on_postgres("skew_beyond_the_leeway_makes_the_fast_instances_jwts_inactive_elsewhere", |a| async move {
        a.realm("jwt", TokenFormat::Jwt, SigningAlg::Es256).await;
        let b = skewed(&a, 120).await;
        let (svc, rs) = clients(&a, "default").await;
        let opaque = b.token("default", &svc, None).await;
        assert!(a.is_active("default", &rs, &opaque).await, "opaque tokens carry no iat");

        let (svc, rs) = clients(&a, "jwt").await;
        let jwt = b.token("jwt", &svc, None).await;
        assert!(b.is_active("jwt", &rs, &jwt).await);
        assert!(!a.is_active("jwt", &rs, &jwt).await, "iat 120 s in A's future");
        a.clock.advance(120 - LEEWAY_SECS - 1);
        assert!(!a.is_active("jwt", &rs, &jwt).await, "iat still beyond the leeway");
        a.clock.advance(1);
        assert!(a.is_active("jwt", &rs, &jwt).await, "iat within the leeway of A's clock");
    })
    .await;
}

/// One instance's clock steps back an hour: its opaque tokens and refresh keep working
/// and new tokens are issued with the earlier time; its JWTs issued before the step
/// are inactive until the clock has caught up to within the leeway; a step back within
/// the leeway changes nothing.
#[tokio::test]
async fn a_clock_stepping_back_keeps_opaque_tokens_and_refresh_working() {
    let s = TestServer::start().await;
    s.realm("jwt", TokenFormat::Jwt, SigningAlg::Es256).await;
    let (svc, rs) = clients(&s, "default").await;
    let (jwt_svc, jwt_rs) = clients(&s, "jwt").await;
    let app = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let t: Value = s.post_form(&s.url("default", "/oauth/token"), Some(&app), &form).await.json().await.unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let opaque = s.token("default", &svc, None).await;
    let jwt = s.token("jwt", &jwt_svc, None).await;
    let issued = s.clock.now();

    s.clock.set(issued - LEEWAY_SECS);
    assert!(s.is_active("default", &rs, &opaque).await);
    assert!(s.is_active("jwt", &jwt_rs, &jwt).await, "a step back within the leeway changes nothing");

    s.clock.set(issued - 3600);
    assert!(s.is_active("default", &rs, &opaque).await);
    assert!(!s.is_active("jwt", &jwt_rs, &jwt).await, "iat an hour in the future");
    let r = s.refresh("default", &app, refresh, None).await;
    assert_eq!(r.status(), 200, "a refresh token issued before the step still refreshes");
    let renewed: Value = r.json().await.unwrap();
    let info = s.introspect("default", &app, renewed["access_token"].as_str().unwrap()).await;
    assert_eq!((info["active"].as_bool(), info["iat"].as_i64()), (Some(true), Some(issued - 3600)));
    let during = s.token("jwt", &jwt_svc, None).await;
    assert!(s.is_active("jwt", &jwt_rs, &during).await, "JWTs issued after the step are fine");

    s.clock.set(issued);
    assert!(s.is_active("jwt", &jwt_rs, &jwt).await, "the clock caught up");
    assert!(s.is_active("default", &rs, &opaque).await);
    assert!(!s.is_active("jwt", &jwt_rs, &during).await, "issued an hour ago by this clock, with a 60 s life");
}
