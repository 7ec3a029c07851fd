//! Malformed requests: each gets its RFC error as JSON, never a 5xx, and nothing is
//! written.

use crate::harness::{TestServer, assert_error};

#[tokio::test]
async fn get_at_post_only_endpoints_is_405() {
    let s = TestServer::start().await;
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/check_token"] {
        let r = s.http.get(s.url("default", path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "POST");
    }
}

#[tokio::test]
async fn bodies_that_are_not_forms_are_invalid_request() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    let json = s
        .http
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_error(json, 400, "invalid_request").await;
    let none = s
        .http
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(none, 400, "invalid_request").await;
    let multipart = s
        .http
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_error(multipart, 400, "invalid_request").await;
    let two_types = s
        .http
        .post(&url)
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-type", "application/json")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_error(two_types, 400, "invalid_request").await;
}

#[tokio::test]
async fn parameters_in_the_query_string_are_refused() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let r = s
        .http
        .post(format!("{}?client_id={}&client_secret={}", s.url("default", "/oauth/token"), c.id, c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = s
        .http
        .post(format!("{}?token={t}", s.url("default", "/oauth/introspect")))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
}

#[tokio::test]
async fn repeated_parameters_are_invalid_request() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=a&scope=a",
        "grant_type=client_credentials&grant_type=password",
    ] {
        let r = s
            .http
            .post(&url)
            .basic_auth(&c.id, Some(&c.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn malformed_encodings_are_invalid_request() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let url = s.url("default", "/oauth/token");
    for body in [
        &b"grant_type=client_credentials&scope=%zz"[..],
        b"grant_type=client_credentials&scope=%",
        b"grant_type=client_credentials&scope=%ff%fe",
        b"grant_type=client_credentials&scope=\xff",
        b"grant_type=client_credentials&scope=a%00",
    ] {
        let r = s
            .http
            .post(&url)
            .basic_auth(&c.id, Some(&c.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(70 * 1024));
    let r = s
        .http
        .post(s.url("default", "/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn malformed_authorization_headers_are_invalid_client_never_500() {
    let s = TestServer::start().await;
    let url = s.url("default", "/oauth/token");
    let long = format!("Basic {}", "QUFB".repeat(3000));
    for value in ["Basic", "Basic !!!!", "Basic YWJj", "Bearer abc", "Basic Og==", long.as_str()] {
        let r = s
            .http
            .post(&url)
            .header("authorization", value)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "invalid_client").await;
    }
    let r = s
        .http
        .post(&url)
        .header("authorization", reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
}

#[tokio::test]
async fn injection_payloads_get_the_normal_error() {
    let s = TestServer::start().await;
    // A real client, so that a payload that slipped past authentication would mint.
    let c = s.cc_client("default", "x", "a").await;
    let before = s.row_counts().await;
    let url = s.url("default", "/oauth/token");
    for payload in
        ["' OR '1'='1' --", "\"; DROP TABLE clients;--", "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}", "\u{1f600}"]
    {
        let bad = crate::harness::TestClient { id: payload.into(), secret: payload.into() };
        let r = s.post_form(&url, Some(&bad), &[("grant_type", "client_credentials"), ("scope", payload)]).await;
        assert_error(r, 401, "invalid_client").await;
        let scoped = s.post_form(&url, Some(&c), &[("grant_type", "client_credentials"), ("scope", payload)]).await;
        assert_error(scoped, 400, "invalid_scope").await;
    }
    crate::negative::assert_unchanged_but_failure_counters(&s, &before, "injection payloads").await;
}

#[tokio::test]
async fn unknown_paths_are_json_404() {
    let s = TestServer::start().await;
    let r = s.http.get(format!("{}/nope", s.base)).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let s = TestServer::start().await;
    let r = s
        .http
        .post(s.url("default", "/oauth/token"))
        .header("x-padding", "a".repeat(64 * 1024))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off_and_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /realms/default/oauth/token HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Meanwhile the server answers others.
    assert_eq!(s.http.get(format!("{}/healthz", s.base)).send().await.unwrap().status(), 200);
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a slowloris connection open");
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

/// Parsing is linear and capped: 8,000 short names (55 KB) are refused after the
/// 1,000th, on every form endpoint and for unknown realms too; up to the cap, unknown
/// parameters are ignored as RFC 6749 §3.2 asks.
#[tokio::test]
async fn a_request_with_more_than_1000_parameters_is_invalid_request() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let many = |n: usize| (0..n).map(|i| format!("p{i}=")).collect::<Vec<_>>().join("&");
    let body = format!("grant_type=client_credentials&{}", many(8_000));
    assert!(body.len() > 50 * 1024 && body.len() < 64 * 1024);
    for realm in ["default", "no-such-realm"] {
        for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/oauth/check_token"] {
            let r = s
                .http
                .post(s.url(realm, path))
                .basic_auth(&c.id, Some(&c.secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let e = assert_error(r, 400, "invalid_request").await;
            assert!(e["error_description"].as_str().unwrap().contains("1000"), "{path}: {e}");
        }
    }
    let r = s.http.get(format!("{}?{}", s.url("default", "/oauth/authorize"), many(1001))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());

    let at_cap = format!("grant_type=client_credentials&{}", many(999));
    let r = s
        .http
        .post(s.url("default", "/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(at_cap)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// At authorize and token, a scope naming more than 100 distinct values is refused.
#[tokio::test]
async fn a_scope_of_more_than_100_values_is_invalid_scope() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let scope = (0..101).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ");
    let r = s
        .post_form(
            &s.url("default", "/oauth/token"),
            Some(&c),
            &[("grant_type", "client_credentials"), ("scope", &scope)],
        )
        .await;
    let e = assert_error(r, 400, "invalid_scope").await;
    assert!(e["error_description"].as_str().unwrap().contains("100"), "{e}");
}

/// No endpoint takes client credentials from the URL (RFC 6749 §2.3.1). Every request
/// below carries the client's real id and secret and a live token in its query
/// string: each is refused with 400 `invalid_request`, and the token stays active.
#[tokio::test]
async fn no_endpoint_accepts_a_client_secret_in_the_url() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let query = |extra: &[(&str, &str)]| -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.extend_pairs([("client_id", c.id.as_str()), ("client_secret", c.secret.as_str()), ("token", t.as_str())]);
        q.extend_pairs(extra);
        q.finish()
    };
    let posts = [
        "/oauth/token",
        "/oauth/introspect",
        "/oauth/revoke",
        "/oauth/check_token",
        "/oauth/revoke_token",
        "/oauth/authorize",
        "/oauth/authorize/login",
        "/oauth/authorize/consent",
    ];
    for path in posts {
        let url = format!("{}?{}", s.url("default", path), query(&[("grant_type", "client_credentials")]));
        assert_error(s.http.post(&url).send().await.unwrap(), 400, "invalid_request").await;
        let r = s.http.post(&url).form(&[("token", t.as_str())]).send().await.unwrap();
        assert_error(r, 400, "invalid_request").await;
        let r = s.http.post(&url).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
        assert_error(r, 400, "invalid_request").await;
    }
    let authorize = [("response_type", "code"), ("redirect_uri", "https://app.example/cb")];
    for path in ["/oauth/authorize", "/oauth/authorize/consent"] {
        let url = format!("{}?{}", s.url("default", path), query(&authorize));
        let r = s.http.get(&url).send().await.unwrap();
        assert!(r.headers().get("location").is_none(), "{path} redirected");
        assert_error(r, 400, "invalid_request").await;
    }
    // The secret's name escaped is still its name.
    let url = format!("{}?client%5Fsecret={}&token={t}", s.url("default", "/oauth/revoke_token"), c.secret);
    let r = s.http.post(&url).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
    assert_error(r, 400, "invalid_request").await;
    // revoke_token takes only the token from the URL: a client_id there is refused too.
    let url = format!("{}?client_id={}&token={t}", s.url("default", "/oauth/revoke_token"), c.id);
    let r = s.http.post(&url).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
    assert_error(r, 400, "invalid_request").await;
    assert!(s.is_active("default", &c, &t).await, "a refused request revoked the token");

    // Spring's form stays: the token in the URL, the client in the Basic header.
    let url = format!("{}?token={t}", s.url("default", "/oauth/revoke_token"));
    let r = s.http.post(&url).basic_auth(&c.id, Some(&c.secret)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!s.is_active("default", &c, &t).await);
}
