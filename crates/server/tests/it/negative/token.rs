//! `POST $I/oauth/token` under attack: hostile identifiers, repeated and misplaced
//! parameters, broken encodings and bodies, another client's refresh token, malformed
//! PKCE verifiers and secret guessing (SECURITY-CASES #8, #20–#22, #27, #29, #31, #34,
//! #56–#58).

use serde_json::Value;

use super::{INJECTIONS, assert_unchanged, assert_unchanged_but_failure_counters, enc, post_raw, snapshot};
use crate::browser::{Browser, REDIRECT, param, pkce_pair};
use crate::harness::{TestClient, TestServer, assert_error, on_postgres};

/// Tokens of the password grant for alice through `c`.
async fn password_tokens(s: &TestServer, c: &TestClient) -> Value {
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(c), &form).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// SQL metacharacters in every identifier the token endpoint reads (#56), on SQLite
/// and PostgreSQL alike: client_id (Basic and post), code, refresh_token and the realm
/// in the path each get their ordinary error, and nothing is written.
async fn hostile_identifiers_get_the_ordinary_error(s: TestServer) {
    let c = s.code_client("default", "App", false).await;
    let public = s.code_client("default", "Public", true).await;
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    for p in INJECTIONS {
        let bad = TestClient { id: (*p).into(), secret: (*p).into() };
        let r = s.post_form(&url, Some(&bad), &[("grant_type", "client_credentials")]).await;
        assert_error(r, 401, "invalid_client").await;
        let r = s.post_form(&url, None, &[("grant_type", "authorization_code"), ("client_id", p), ("code", p)]).await;
        assert_error(r, 401, "invalid_client").await;
        let r = s
            .post_form(&url, None, &[("grant_type", "client_credentials"), ("client_id", p), ("client_secret", p)])
            .await;
        assert_error(r, 401, "invalid_client").await;
        let form = [("grant_type", "authorization_code"), ("code", p), ("redirect_uri", REDIRECT)];
        assert_error(s.post_form(&url, Some(&c), &form).await, 400, "invalid_grant").await;
        let form = [("grant_type", "authorization_code"), ("code", p), ("client_id", &public.id), ("code_verifier", p)];
        assert_error(s.post_form(&url, None, &form).await, 400, "invalid_grant").await;
        let form = [("grant_type", "refresh_token"), ("refresh_token", p)];
        assert_error(s.post_form(&url, Some(&c), &form).await, 400, "invalid_grant").await;
        let realm_url = format!("{}/realms/{}/oauth/token", s.base, enc(p).replace('+', "%20"));
        let r = s.post_form(&realm_url, Some(&c), &[("grant_type", "client_credentials")]).await;
        assert_error(r, 404, "not_found").await;
    }
    assert_unchanged_but_failure_counters(&s, &before, "hostile identifiers").await;
}

#[tokio::test]
async fn hostile_identifiers_get_the_ordinary_error_on_sqlite() {
    hostile_identifiers_get_the_ordinary_error(TestServer::start().await).await;
}

#[tokio::test]
async fn hostile_identifiers_get_the_ordinary_error_on_postgres() {
    on_postgres("neg_token_identifiers", hostile_identifiers_get_the_ordinary_error).await;
}

/// A username with SQL in it is an unknown user: the same `invalid_grant` as a wrong
/// password. Only the sign-in failure counters may change (that is their design).
#[tokio::test]
async fn a_hostile_username_is_an_unknown_user() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let url = s.url("default", "/oauth/token");
    let mut before = snapshot(&s).await;
    for p in INJECTIONS {
        let form = [("grant_type", "password"), ("username", p), ("password", p)];
        let e = assert_error(s.post_form(&url, Some(&c), &form).await, 400, "invalid_grant").await;
        assert!(!e.to_string().to_lowercase().contains("sql"), "{e}");
    }
    let mut after = snapshot(&s).await;
    for counters in ["sign_in_failures", "login_attempts"] {
        before.remove(counters);
        after.remove(counters);
    }
    assert_eq!(after, before, "only the failure counters may change");
    password_tokens(&s, &c).await;
}

/// Every parameter the grants read, sent twice with equal or different values, is
/// `invalid_request` (RFC 6749 §3.2: "MUST NOT be included more than once"), before any
/// code is spent: the code still works afterwards.
#[tokio::test]
async fn repeated_grant_parameters_are_invalid_request_and_spend_nothing() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let params = Browser::new()
        .authorize_and_allow(
            &s,
            "default",
            &[("response_type", "code"), ("client_id", &c.id), ("redirect_uri", REDIRECT)],
            "alice",
            "correct horse battery",
        )
        .await;
    let code = enc(&param(&params, "code").unwrap());
    let r = enc(REDIRECT);
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    for body in [
        format!("grant_type=authorization_code&code={code}&code={code}&redirect_uri={r}"),
        format!("grant_type=authorization_code&code={code}&code=other&redirect_uri={r}"),
        format!("grant_type=authorization_code&code={code}&redirect_uri={r}&redirect_uri={r}"),
        format!("grant_type=authorization_code&code={code}&redirect_uri={r}&client_id={0}&client_id={0}", c.id),
        format!("grant_type=authorization_code&code={code}&redirect_uri={r}&code_verifier=a&code_verifier=b"),
        "grant_type=refresh_token&refresh_token=x&refresh_token=y".to_owned(),
    ] {
        assert_error(post_raw(&s, &url, Some(&c), body.clone()).await, 400, "invalid_request").await;
    }
    assert_unchanged(&s, &before, "repeated parameters").await;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri={r}");
    assert_eq!(post_raw(&s, &url, Some(&c), body).await.status(), 200, "the code was not spent");
}

/// Grant parameters in the token endpoint's query string (RFC 6749 §3.2, RFC 9700
/// §4.3) are refused even when the body is complete, and never read in its place.
#[tokio::test]
async fn grant_parameters_in_the_query_string_are_refused() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a b").await;
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    for query in ["grant_type=client_credentials", "scope=b", "grant_type=client_credentials&scope=a", "x=1"] {
        let r = s.http.post(format!("{url}?{query}")).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
        assert_error(r, 400, "invalid_request").await;
        let r = s
            .http
            .post(format!("{url}?{query}"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "a")])
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "invalid_request").await;
    }
    assert_unchanged(&s, &before, "query parameters").await;
}

/// Invalid UTF-8, broken escapes and NULs in every field a grant reads (#58).
#[tokio::test]
async fn broken_encodings_in_any_field_are_invalid_request() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", false).await;
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    for field in ["code", "redirect_uri", "code_verifier", "refresh_token", "username", "password", "client_id"] {
        for bad in [&b"\xff\xfe"[..], b"%ff", b"%c3%28", b"%zz", b"a%", b"%00", b"\xed\xa0\x80"] {
            let mut body = b"grant_type=authorization_code&".to_vec();
            body.extend_from_slice(field.as_bytes());
            body.push(b'=');
            body.extend_from_slice(bad);
            let r = post_raw(&s, &url, Some(&c), body).await;
            assert_error(r, 400, "invalid_request").await;
        }
    }
    // A body that is JSON nested 10,000 deep, or a form whose name is: never parsed as
    // structure, never a 500.
    let deep_json = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = s
        .http
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/json")
        .body(deep_json)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let deep_form = format!("grant_type=refresh_token&refresh_token=x&a{}=1", "%5B".repeat(10_000));
    assert_error(post_raw(&s, &url, Some(&c), deep_form).await, 400, "invalid_grant").await;
    // 64 KiB is the limit at every form endpoint, not just this one.
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/check_token", "/oauth/revoke_token"] {
        let big = format!("token={}", "a".repeat(65 * 1024));
        let r = post_raw(&s, &s.url("default", path), Some(&c), big).await;
        assert_eq!(r.status(), 413, "{path}");
    }
    assert_unchanged(&s, &before, "broken encodings").await;
}

/// Client B presents client A's refresh token (#34): `invalid_grant`, and A's family
/// is left alone (the policy: another client's attempt is not reuse by A).
#[tokio::test]
async fn another_clients_refresh_token_is_invalid_grant_and_revokes_nothing() {
    let s = TestServer::start().await;
    let a = s.password_client("default", "a").await;
    let b = s.password_client("default", "b").await;
    let public = s.code_client("default", "Public", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = password_tokens(&s, &a).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let before = snapshot(&s).await;
    for thief in [&b, &public] {
        assert_error(s.refresh("default", thief, rt, None).await, 400, "invalid_grant").await;
        assert_error(s.refresh("default", thief, rt, Some("invoices.read")).await, 400, "invalid_grant").await;
    }
    // Basic as B with A's id in the body: two identities, refused before the grant.
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", a.id.as_str())];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&b), &form).await;
    assert_error(r, 400, "invalid_request").await;
    assert_unchanged(&s, &before, "another client's refresh token").await;
    assert!(s.is_active("default", &a, t["access_token"].as_str().unwrap()).await);
    assert_eq!(s.refresh("default", &a, rt, None).await.status(), 200, "A's refresh token still works");
}

/// A verifier of 42 or 129 characters, or outside RFC 7636's alphabet, is refused
/// (#22) and does not spend the code: the right verifier still works afterwards.
#[tokio::test]
async fn malformed_pkce_verifiers_are_invalid_grant_and_spend_nothing() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", true).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let (verifier, challenge) = pkce_pair();
    let q = crate::browser::pkce_query(&c.id, &challenge);
    let params = Browser::new().authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    let code = param(&params, "code").unwrap();
    let before = snapshot(&s).await;
    let long = "a".repeat(129);
    let short = &verifier[..42];
    for bad in [
        short,
        long.as_str(),
        &format!("{}+", &verifier[..42]),
        &format!("{} ", &verifier[..42]),
        "",
        "é".repeat(43).as_str(),
    ] {
        let r = s.exchange("default", &c, &code, Some(bad)).await;
        let status = r.status();
        let e: Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{bad:?}: {e}");
        assert!(e["error"] == "invalid_grant" || e["error"] == "invalid_request", "{bad:?}: {e}");
    }
    assert_unchanged(&s, &before, "malformed verifiers").await;
    assert_eq!(s.exchange("default", &c, &code, Some(&verifier)).await.status(), 200);
}

/// Online guessing of a client secret (#31): 100 wrong secrets as one concurrent
/// burst, then 100 more in sequence, from one address. Exactly ten are checked
/// (401 `invalid_client`, counted); every other attempt, the right secret included,
/// is 429 with `Retry-After` and writes nothing; the only rows written are the
/// pair's, the address's and the client's counters. The client works from another
/// address at once and from this one after the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_secret_guessing_is_throttled_and_a_burst_never_passes_the_limit() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    let burst: Vec<_> = (0..100)
        .map(|i| {
            let (http, url, id) = (s.http.clone(), url.clone(), c.id.clone());
            tokio::spawn(async move {
                let r = http
                    .post(url)
                    .basic_auth(id, Some(format!("burst-{i}")))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                crate::client_secret_throttling::refused(r).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in burst {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 90);
    let counted = crate::client_secret_throttling::counters(&s).await;
    assert_eq!(counted, (3, 30), "pair, address and client, ten failures each");
    for i in 0..100 {
        let wrong = TestClient { id: c.id.clone(), secret: format!("guess-{i}") };
        let r = s.post_form(&url, Some(&wrong), &[("grant_type", "client_credentials")]).await;
        assert_eq!(crate::client_secret_throttling::refused(r).await, 429);
    }
    let r = s.post_form(&url, Some(&c), &[("grant_type", "client_credentials")]).await;
    assert_eq!(crate::client_secret_throttling::refused(r).await, 429, "the right secret too");
    let mut after = snapshot(&s).await;
    assert_eq!(after.remove("sign_in_failures"), Some(3));
    let mut expected = before.clone();
    expected.remove("sign_in_failures");
    assert_eq!(after, expected, "nothing but the counters was written");
    assert_eq!(crate::client_secret_throttling::counters(&s).await, counted, "refusals count nothing");

    let elsewhere = crate::sign_in_throttling::from("127.0.0.2");
    let r = elsewhere.post(&url).basic_auth(&c.id, Some(&c.secret)).form(&[("grant_type", "client_credentials")]);
    assert_eq!(r.send().await.unwrap().status(), 200, "the client from another address");
    s.clock.advance(15 * 60);
    s.token("default", &c, None).await;
}

/// RFC 6749 §4.1.3: a `redirect_uri` sent at authorize must be sent again, identical,
/// with the code (SECURITY-CASES #19). Omitting it is `invalid_grant`, even for a
/// client with one registered URI, and spends nothing.
#[tokio::test]
async fn a_redirect_uri_sent_at_authorize_is_required_with_the_code() {
    let s = TestServer::start().await;
    let c = s.code_client("default", "App", false).await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let q = [("response_type", "code"), ("client_id", c.id.as_str()), ("redirect_uri", REDIRECT)];
    let params = Browser::new().authorize_and_allow(&s, "default", &q, "alice", "correct horse battery").await;
    let code = param(&params, "code").unwrap();
    let url = s.url("default", "/oauth/token");
    let before = snapshot(&s).await;
    for form in [
        vec![("grant_type", "authorization_code"), ("code", code.as_str())],
        vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "")],
        vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://app.example/cb/"),
        ],
    ] {
        assert_error(s.post_form(&url, Some(&c), &form).await, 400, "invalid_grant").await;
    }
    assert_unchanged(&s, &before, "redirect_uri at the token endpoint").await;
    assert_eq!(s.exchange("default", &c, &code, None).await.status(), 200, "the code was not spent");
}

/// The password grant asking for more than the client may have (SECURITY-CASES #32):
/// `invalid_scope`, no token, even with the right password.
#[tokio::test]
async fn the_password_grant_never_widens_scope() {
    let s = TestServer::start().await;
    let c = s.password_client("default", "app").await;
    s.user("default", "alice", "correct horse battery", &["admin"]).await;
    let url = s.url("default", "/oauth/token");
    let mut before = snapshot(&s).await;
    for scope in ["admin", "invoices.read admin", "invoices.read\u{a0}invoices.write", "INVOICES.READ"] {
        let form = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("scope", scope),
        ];
        assert_error(s.post_form(&url, Some(&c), &form).await, 400, "invalid_scope").await;
    }
    let mut after = snapshot(&s).await;
    for counters in ["sign_in_failures", "login_attempts"] {
        before.remove(counters);
        after.remove(counters);
    }
    assert_eq!(after, before, "a refused password grant wrote rows");
}
