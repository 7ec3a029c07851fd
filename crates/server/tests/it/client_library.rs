//! The client library's token manager against the real server: every branch of `get`,
//! single flight, introspection, revocation and deletion. Requests that reached the
//! server are counted as the token rows they wrote.

use std::sync::Arc;
use std::time::Duration;

use portcullis_client::{ClientConfig, Error, Subject, TokenManager, TokenResponse};
use portcullis_core::admin::{ClientSpec, UserSpec};
use portcullis_core::model::GrantType;

use crate::harness::{TestClient, TestServer};

async fn manager(s: &TestServer, c: &TestClient, config: impl FnOnce(ClientConfig) -> ClientConfig) -> TokenManager {
    let config = config(ClientConfig::new(&c.id).with_secret(&c.secret));
    TokenManager::discover(&s.issuer("default"), config).await.unwrap()
}

async fn tokens_written(s: &TestServer) -> i64 {
    s.row_counts().await["tokens"]
}

/// A confidential client that may use the password grant and refresh, and a user
/// token response for alice with scopes `a b`.
async fn user_setup(s: &TestServer) -> (TestClient, TokenResponse) {
    let c = s
        .client_with(
            "default",
            ClientSpec {
                name: Some("app".into()),
                grant_types: Some(vec![GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials]),
                scopes: Some(vec!["a".into(), "b".into()]),
                ..Default::default()
            },
        )
        .await;
    let spec = UserSpec { username: Some("alice".into()), ..Default::default() };
    s.admin().create_user("default", &spec, Some("correct horse")).await.unwrap();
    let form = [("grant_type", "password"), ("username", "alice"), ("password", "correct horse"), ("scope", "a b")];
    let r = s.post_form(&s.url("default", "/oauth/token"), Some(&c), &form).await;
    assert_eq!(r.status(), 200);
    (c, r.json().await.unwrap())
}

#[tokio::test]
async fn an_exact_scope_hit_is_served_from_the_cache() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "svc", "a b").await;
    let m = manager(&s, &c, |c| c).await;
    let first = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    let again = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_eq!(first.secret(), again.secret());
    assert_eq!(first.scopes(), ["a".to_owned()]);
    assert_eq!(tokens_written(&s).await, 1);
    // Other scopes are another token: exactly those, never more.
    let both = m.get(&Subject::Client, Some(&["b", "a"])).await.unwrap();
    assert_ne!(both.secret(), first.secret());
    assert_eq!(both.scopes(), ["a".to_owned(), "b".to_owned()]);
    assert_eq!(m.get(&Subject::Client, Some(&["a", "b"])).await.unwrap().secret(), both.secret());
    assert_eq!(tokens_written(&s).await, 2);
    // No list: any valid token of the subject.
    let any = m.get(&Subject::Client, None).await.unwrap();
    assert!(any.secret() == first.secret() || any.secret() == both.secret());
    assert_eq!(tokens_written(&s).await, 2);
    assert!(s.is_active("default", &c, first.secret()).await);
}

#[tokio::test]
async fn a_hundred_concurrent_gets_send_one_request() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "svc", "a").await;
    let m = manager(&s, &c, |c| c).await;
    let gets: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.get(&Subject::Client, Some(&["a"])).await.unwrap().secret().to_owned() })
        })
        .collect();
    let mut secrets = Vec::new();
    for g in gets {
        secrets.push(g.await.unwrap());
    }
    secrets.dedup();
    assert_eq!(secrets.len(), 1);
    assert_eq!(tokens_written(&s).await, 1, "one token request reached the server");
}

#[tokio::test]
async fn a_token_within_the_leeway_is_replaced() {
    let s = TestServer::start().await;
    let spec = ClientSpec {
        name: Some("short".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        scopes: Some(vec!["a".into()]),
        access_ttl: Some(20),
        ..Default::default()
    };
    let c = s.client_with("default", spec).await;
    let m = manager(&s, &c, |c| c.with_leeway(Duration::from_secs(30))).await;
    let first = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    let second = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_ne!(first.secret(), second.secret(), "a token with 20 s left counts as expired under a 30 s leeway");
    let m = manager(&s, &c, |c| c.with_leeway(Duration::from_secs(5))).await;
    let first = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_eq!(m.get(&Subject::Client, Some(&["a"])).await.unwrap().secret(), first.secret());
}

#[tokio::test]
async fn a_registered_refresh_token_is_narrowed_and_its_rotation_kept() {
    let s = TestServer::start().await;
    let (c, response) = user_setup(&s).await;
    let m = manager(&s, &c, |c| c).await;
    let alice = Subject::User("alice".into());
    let registered = m.register(&alice, response).await.unwrap();
    assert_eq!(registered.scopes(), ["a".to_owned(), "b".to_owned()]);
    assert_eq!(m.get(&alice, Some(&["a", "b"])).await.unwrap().secret(), registered.secret());
    // Narrowing: a refresh down to `a` (RFC 6749 §6).
    let narrow = m.get(&alice, Some(&["a"])).await.unwrap();
    assert_eq!(narrow.scopes(), ["a".to_owned()]);
    let info = s.introspect("default", &c, narrow.secret()).await;
    assert_eq!(info["scope"], "a");
    // The realm rotates refresh tokens: the manager must use the new one, or the
    // server would see a reuse and revoke the whole grant.
    let other = m.get(&alice, Some(&["b"])).await.unwrap();
    assert_eq!(other.scopes(), ["b".to_owned()]);
    assert!(s.is_active("default", &c, narrow.secret()).await, "the grant survived: no reuse was detected");
    assert!(s.is_active("default", &c, other.secret()).await);
    // A scope never granted: the server's refusal, typed.
    assert!(matches!(m.get(&alice, Some(&["c"])).await, Err(Error::InvalidScope(_))));
    // Users get no client-credentials fallback.
    let bob = Subject::User("bob".into());
    assert!(matches!(m.get(&bob, Some(&["a"])).await, Err(Error::NoRefreshToken)));
}

#[tokio::test]
async fn without_a_usable_refresh_token_the_client_falls_back_to_client_credentials() {
    let s = TestServer::start().await;
    let (c, response) = user_setup(&s).await;
    let m = manager(&s, &c, |c| c).await;
    let alice = Subject::User("alice".into());
    m.register(&alice, response.clone()).await.unwrap();
    // A dead refresh token stored for the client itself: refused, forgotten, then
    // client credentials.
    let mut dead = response;
    dead.refresh_token = Some("pcrt_not-a-real-token".into());
    dead.access_token = "expired".into();
    dead.expires_in = Some(0);
    m.register(&Subject::Client, dead).await.unwrap();
    let t = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    let info = s.introspect("default", &c, t.secret()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], c.id.as_str(), "a client-credentials token");
}

#[tokio::test]
async fn introspection_asks_the_server_unless_the_stored_copy_is_fresh_enough() {
    let s = TestServer::start().await;
    let c = s.client_with("default", resource_server_spec()).await;
    let fresh = manager(&s, &c, |c| c.with_min_introspect_interval(Duration::from_secs(60))).await;
    let always = manager(&s, &c, |c| c).await;
    let t = fresh.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert!(always.introspect(t.secret()).await.unwrap().active);
    // Revoked behind the manager's back: the server knows, the stored copy does not.
    always.revoke(t.secret()).await.unwrap();
    let local = fresh.introspect(t.secret()).await.unwrap();
    assert!(local.active, "answered from the stored copy, obtained less than 60 s ago");
    assert_eq!(local.scope.as_deref(), Some("a"));
    let server = always.introspect(t.secret()).await.unwrap();
    assert!(!server.active);
    assert_eq!(server.kind, None, "an inactive answer says nothing else");
    // A token the manager never stored is always the server's to judge.
    assert!(!fresh.introspect("pcat_unknown").await.unwrap().active);
}

fn resource_server_spec() -> ClientSpec {
    ClientSpec {
        name: Some("rs".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        scopes: Some(vec!["a".into()]),
        resource_server: Some(true),
        ..Default::default()
    }
}

#[tokio::test]
async fn revoke_is_remote_and_delete_is_local_unless_asked() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "svc", "a").await;
    let m = manager(&s, &c, |c| c).await;
    let t = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    m.revoke(t.secret()).await.unwrap();
    assert!(!s.is_active("default", &c, t.secret()).await);
    // The local copy stays until deleted.
    assert_eq!(m.get(&Subject::Client, Some(&["a"])).await.unwrap().secret(), t.secret());
    assert!(m.delete(t.secret()).await.unwrap());
    assert!(!m.delete(t.secret()).await.unwrap(), "deleting twice finds nothing");
    let next = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_ne!(next.secret(), t.secret());
    // Without revoke_on_delete the server is not told.
    assert!(m.delete(next.secret()).await.unwrap());
    assert!(s.is_active("default", &c, next.secret()).await);

    let revoking = manager(&s, &c, |c| c.with_revoke_on_delete(true)).await;
    let t = revoking.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert!(revoking.delete(t.secret()).await.unwrap());
    assert!(!s.is_active("default", &c, t.secret()).await);
}

#[tokio::test]
async fn delete_all_forgets_every_token_of_the_subject() {
    let s = TestServer::start().await;
    let (c, response) = user_setup(&s).await;
    let m = Arc::new(manager(&s, &c, |c| c).await);
    let alice = Subject::User("alice".into());
    m.register(&alice, response).await.unwrap();
    m.get(&alice, Some(&["a"])).await.unwrap();
    let own = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_eq!(m.delete_all(&alice).await.unwrap(), 2);
    assert!(matches!(m.get(&alice, Some(&["a"])).await, Err(Error::NoRefreshToken)));
    assert_eq!(m.get(&Subject::Client, Some(&["a"])).await.unwrap().secret(), own.secret(), "other subjects stay");
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_and_a_bad_issuer_is_a_discovery_error() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "svc", "a").await;
    let wrong = TestClient { id: c.id.clone(), secret: "wrong".into() };
    let m = manager(&s, &wrong, |c| c).await;
    assert!(matches!(m.get(&Subject::Client, Some(&["a"])).await, Err(Error::InvalidClient(_))));
    let e = TokenManager::discover(&s.issuer("no-such-realm"), ClientConfig::new("x")).await.err().unwrap();
    assert!(matches!(e, Error::Discovery(_)), "{e}");
    let e = TokenManager::discover("http://127.0.0.1:9/realms/x", ClientConfig::new("x")).await.err().unwrap();
    assert!(matches!(e, Error::Network(_)), "{e}");
}

/// With the SQLite store a restarted service keeps its tokens: the new manager serves
/// the stored token without asking the server, and refreshes with the stored refresh
/// token.
#[tokio::test]
async fn tokens_survive_a_restart_with_the_sqlite_store() {
    use portcullis_client::SqliteTokenStore;
    let s = TestServer::start().await;
    let (c, response) = user_setup(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let alice = Subject::User("alice".into());
    let (own, registered) = {
        let m = manager(&s, &c, |cfg| cfg.with_store(SqliteTokenStore::open(&path).unwrap())).await;
        let registered = m.register(&alice, response).await.unwrap();
        (m.get(&Subject::Client, Some(&["a"])).await.unwrap(), registered)
    };
    let written = tokens_written(&s).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let restarted = manager(&s, &c, |cfg| cfg.with_store(SqliteTokenStore::open(&path).unwrap())).await;
    assert_eq!(restarted.get(&Subject::Client, Some(&["a"])).await.unwrap().secret(), own.secret());
    assert_eq!(restarted.get(&alice, Some(&["a", "b"])).await.unwrap().secret(), registered.secret());
    assert_eq!(tokens_written(&s).await, written, "served from the file");
    let narrowed = restarted.get(&alice, Some(&["b"])).await.unwrap();
    assert!(s.is_active("default", &c, narrowed.secret()).await, "the stored refresh token worked");
    assert_eq!(restarted.delete_all(&alice).await.unwrap(), 2);
    let again = manager(&s, &c, |cfg| cfg.with_store(SqliteTokenStore::open(&path).unwrap())).await;
    assert!(matches!(again.get(&alice, None).await, Err(Error::NoRefreshToken)), "deletions persist too");
}

/// A hit near expiry is answered at once from the cache and starts one refresh in the
/// background, so callers under load never wait on an expiring token.
#[tokio::test]
async fn a_token_near_expiry_is_refreshed_in_the_background() {
    let s = TestServer::start().await;
    let c = s.cc_client("default", "svc", "a").await;
    // Every token (an hour long) is "near expiry" from the start under a day's refresh-ahead,
    // whatever the jitter (a fifth either way).
    let m = manager(&s, &c, |cfg| cfg.with_refresh_ahead(Duration::from_secs(86_400))).await;
    let first = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_eq!(tokens_written(&s).await, 1);
    let hit = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert_eq!(hit.secret(), first.secret(), "answered from the cache, not after a refresh");
    let mut written = 1;
    for _ in 0..100 {
        written = tokens_written(&s).await;
        if written >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(written >= 2, "the background refresh reached the server");
    // The row is written before the answer reaches the manager: the cache holds the
    // new token a moment after the count moved (seen on a loaded machine).
    let mut later = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    for _ in 0..100 {
        if later.secret() != first.secret() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        later = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    }
    assert_ne!(later.secret(), first.secret(), "the refreshed token replaced the old one");

    // Without a refresh-ahead window reaching back to now, a hit starts nothing.
    let quiet = manager(&s, &c, |cfg| cfg).await;
    let t = quiet.get(&Subject::Client, Some(&["a"])).await.unwrap();
    let before = tokens_written(&s).await;
    assert_eq!(quiet.get(&Subject::Client, Some(&["a"])).await.unwrap().secret(), t.secret());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(tokens_written(&s).await, before);
}

/// client_secret_post sends the credentials in the body; a public client sends only
/// its id (and the server refuses it client credentials, typed).
#[tokio::test]
async fn client_secret_post_and_public_clients_authenticate_as_registered() {
    use portcullis_client::AuthMethod;
    use portcullis_core::model::AuthMethod as ServerAuth;
    let s = TestServer::start().await;
    let spec = ClientSpec {
        name: Some("post".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        scopes: Some(vec!["a".into()]),
        auth_method: Some(ServerAuth::ClientSecretPost),
        ..Default::default()
    };
    let post = s.client_with("default", spec).await;
    let m = manager(&s, &post, |cfg| cfg.with_auth_method(AuthMethod::ClientSecretPost)).await;
    let t = m.get(&Subject::Client, Some(&["a"])).await.unwrap();
    assert!(m.introspect(t.secret()).await.unwrap().active, "introspection authenticates the same way");
    // The same client presenting Basic is refused: the registered method is enforced.
    let basic = manager(&s, &post, |cfg| cfg).await;
    assert!(matches!(basic.get(&Subject::Client, Some(&["a"])).await, Err(Error::InvalidClient(_))));
    let public = TokenManager::discover(&s.issuer("default"), ClientConfig::new(&post.id)).await.unwrap();
    assert!(matches!(public.get(&Subject::Client, Some(&["a"])).await, Err(Error::InvalidClient(_))));
}
