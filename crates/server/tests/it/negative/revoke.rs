//! `POST $I/oauth/revoke` and Spring's `revoke_token` under attack: hostile tokens,
//! another client's or another realm's tokens, repeated parameters and broken bodies
//! (SECURITY-CASES #34, #43, #51, #56, #58; RFC 7009 §2).

use serde_json::Value;

use super::{INJECTIONS, assert_unchanged, post_raw, snapshot};
use crate::harness::{TestClient, TestServer, assert_error};

async fn password_tokens(s: &TestServer, c: &TestClient) -> Value {
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse battery")];
    s.post_form(&s.url("default", "/oauth/token"), Some(c), &form).await.json().await.unwrap()
}

/// Hostile tokens are "revoked" (200, RFC 7009 §2.2) and nothing changes.
#[tokio::test]
async fn hostile_tokens_answer_200_and_change_nothing() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let (selector, _) = t.rsplit_once('_').unwrap();
    let before = snapshot(&s).await;
    for path in ["/oauth/revoke", "/oauth/revoke_token"] {
        for p in INJECTIONS {
            for token in [p.to_string(), format!("{selector}_{p}")] {
                let r = s.post_form(&s.url("default", path), Some(&c), &[("token", &token)]).await;
                assert_eq!(r.status(), 200, "{path} {token}");
            }
        }
    }
    assert_unchanged(&s, &before, "hostile revocations").await;
    assert!(s.is_active("default", &c, &t).await);
}

/// Client B revoking client A's refresh or access token (RFC 7009 §2.1, #43), or
/// realm B's client revoking realm A's token (#51): 200 and nothing revoked (the
/// fosite/Hydra choice; ARCHITECTURE.md).
#[tokio::test]
async fn another_clients_or_realms_tokens_stay_live() {
    let s = TestServer::start().await;
    s.admin().create_realm("other", &Default::default()).await.unwrap();
    let a = s.password_client("default", "a").await;
    let b = s.password_client("default", "b").await;
    let elsewhere = s.cc_client("other", "x", "a").await;
    s.user("default", "alice", "correct horse battery", &[]).await;
    let t = password_tokens(&s, &a).await;
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    for token in [rt, at] {
        for hint in [None, Some("refresh_token"), Some("access_token")] {
            let mut form = vec![("token", token)];
            if let Some(h) = hint {
                form.push(("token_type_hint", h));
            }
            for path in ["/oauth/revoke", "/oauth/revoke_token"] {
                let r = s.post_form(&s.url("default", path), Some(&b), &form).await;
                assert_eq!(r.status(), 200, "{path}");
                let r = s.post_form(&s.url("other", path), Some(&elsewhere), &form).await;
                assert_eq!(r.status(), 200, "{path} at another realm");
                // A's credentials are unknown at the other realm (asked once per path and
                // token: more than ten failures from one address would be throttled).
                if hint.is_none() {
                    let r = s.post_form(&s.url("other", path), Some(&a), &form).await;
                    assert_error(r, 401, "invalid_client").await;
                }
            }
        }
    }
    assert!(s.is_active("default", &a, at).await, "B revoked A's access token");
    let r = s.refresh("default", &a, rt, None).await;
    assert_eq!(r.status(), 200, "B revoked A's refresh token");
}

/// A repeated `token` or hint, invalid UTF-8 or a NUL: `invalid_request`, and the
/// token named first is not revoked.
#[tokio::test]
async fn malformed_revocations_are_invalid_request_and_revoke_nothing() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "x", "a").await;
    let t = s.token("default", &c, None).await;
    let before = snapshot(&s).await;
    for path in ["/oauth/revoke", "/oauth/revoke_token"] {
        let url = s.url("default", path);
        for body in [
            format!("token={t}&token={t}").into_bytes(),
            format!("token={t}&token=x").into_bytes(),
            format!("token={t}&token_type_hint=access_token&token_type_hint=refresh_token").into_bytes(),
            b"token=\xff".to_vec(),
            b"token=%c3%28".to_vec(),
            b"token=%zz".to_vec(),
        ] {
            assert_error(post_raw(&s, &url, Some(&c), body).await, 400, "invalid_request").await;
        }
    }
    assert_unchanged(&s, &before, "malformed revocations").await;
    assert!(s.is_active("default", &c, &t).await);
}
