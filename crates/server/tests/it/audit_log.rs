//! The audit log over HTTP: each kind of event appears, after the action that causes
//! it, with its realm, time, source address and request id, and the fields of its
//! kind; the admin API lists them by kind, time and page.

use portcullis_core::admin::{ClientSpec, UserSpec};
use portcullis_core::clock::Clock;
use portcullis_core::model::GrantType;
use reqwest::Method;
use serde_json::Value;

use crate::admin_api::Api;
use crate::harness::{TestClient, TestServer, on_postgres};

const PASSWORD: &str = "correct horse battery staple";

async fn setup(s: &TestServer) -> (TestClient, String) {
    let spec = ClientSpec {
        name: Some("svc".into()),
        grant_types: Some(vec![GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken]),
        ..Default::default()
    };
    let client = s.client_with("default", spec).await;
    let user = UserSpec { username: Some("alice".into()), ..Default::default() };
    let alice = s.admin().create_user("default", &user, Some(PASSWORD)).await.unwrap().id;
    (client, alice)
}

async fn password_login(s: &TestServer, c: &TestClient, user: &str, password: &str) -> reqwest::Response {
    let form = [("grant_type", "password"), ("username", user), ("password", password)];
    s.post_form(&s.url("default", "/oauth/token"), Some(c), &form).await
}

/// The realm's events of `kind`, oldest first.
async fn events(api: &Api, kind: &str) -> Vec<Value> {
    let page = api.expect(Method::GET, &format!("/realms/default/audit?kind={kind}&limit=200"), None, 200).await;
    page["items"].as_array().unwrap().clone()
}

fn request_id(r: &reqwest::Response) -> String {
    r.headers()["x-request-id"].to_str().unwrap().to_owned()
}

/// What every event carries, whatever its kind.
fn assert_context(e: &Value, kind: &str) {
    assert_eq!(e["kind"], kind, "{e}");
    assert_eq!(e["realm"], "default", "{e}");
    assert_eq!(e["address"], "127.0.0.1", "{e}");
    assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
    assert!(e["at"].as_i64().is_some_and(|at| at > 1_700_000_000), "{e}");
    assert_eq!(e["id"].as_str().map(str::len), Some(32), "{e}");
}

#[tokio::test]
async fn token_revocation_reuse_and_client_failure_events_carry_their_fields() {
    token_events(Api::start().await).await;
}

#[tokio::test]
async fn token_revocation_reuse_and_client_failure_events_on_postgres() {
    on_postgres("audit_token_events", |s| async move { token_events(Api::on(s).await).await }).await;
}

async fn token_events(api: Api) {
    let s = &api.s;
    let (svc, alice) = setup(s).await;
    let token_url = s.url("default", "/oauth/token");

    // token.issued by client_credentials, with the request id of its response.
    let r = s.post_form(&token_url, Some(&svc), &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 200);
    let cc_request = request_id(&r);
    let cc_token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // token.issued by the password grant, then by refresh; then the first refresh
    // token again: reuse.
    let r = password_login(s, &svc, "alice", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let first = r.json::<Value>().await.unwrap();
    let rt = first["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    assert_eq!(s.post_form(&token_url, Some(&svc), &refresh).await.status(), 200);
    let reused = s.post_form(&token_url, Some(&svc), &refresh).await;
    assert_eq!(reused.status(), 400);
    let reuse_request = request_id(&reused);
    // token.revoked through the revocation endpoint.
    let r = s.post_form(&s.url("default", "/oauth/revoke"), Some(&svc), &[("token", &cc_token)]).await;
    assert_eq!(r.status(), 200);
    // client_auth.failed at each endpoint that authenticates clients.
    let wrong = TestClient { id: svc.id.clone(), secret: "not-the-secret".into() };
    for (path, form) in [
        ("/oauth/token", vec![("grant_type", "client_credentials")]),
        ("/oauth/introspect", vec![("token", cc_token.as_str())]),
        ("/oauth/revoke", vec![("token", cc_token.as_str())]),
        ("/oauth/check_token", vec![("token", cc_token.as_str())]),
    ] {
        let r = s.post_form(&s.url("default", path), Some(&wrong), &form).await;
        assert_eq!(r.status(), 401, "{path}");
    }

    let issued = events(&api, "token.issued").await;
    let grant_types: Vec<&str> = issued.iter().map(|e| e["grant_type"].as_str().unwrap()).collect();
    assert_eq!(grant_types, ["client_credentials", "password", "refresh_token"]);
    for e in &issued {
        assert_context(e, "token.issued");
        assert_eq!(e["client_id"], svc.id.as_str(), "{e}");
        assert_eq!(e["target"].as_str().map(str::len), Some(32), "the token's id: {e}");
    }
    assert_eq!(issued[0]["subject"], svc.id.as_str());
    assert_eq!(issued[0]["request_id"], cc_request.as_str());
    assert_eq!(issued[1]["subject"], alice.as_str());
    assert_eq!(issued[2]["subject"], alice.as_str());

    let reuse = events(&api, "refresh.reused").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_context(&reuse[0], "refresh.reused");
    assert_eq!(reuse[0]["request_id"], reuse_request.as_str());
    assert_eq!(reuse[0]["client_id"], svc.id.as_str());
    assert_eq!(reuse[0]["subject"], alice.as_str());
    let grant_id = reuse[0]["target"].as_str().unwrap();
    let grants = events(&api, "grant.revoked").await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_context(&grants[0], "grant.revoked");
    assert_eq!((&grants[0]["action"], &grants[0]["target"]), (&"refresh_reuse".into(), &grant_id.into()));

    let revoked = events(&api, "token.revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_context(&revoked[0], "token.revoked");
    assert_eq!(revoked[0]["action"], "revoke");
    assert_eq!(revoked[0]["client_id"], svc.id.as_str());
    assert_eq!(revoked[0]["target"], issued[0]["target"], "the revoked token is the one issued first");

    let failures = events(&api, "client_auth.failed").await;
    let endpoints: Vec<&str> = failures.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(endpoints, ["token", "introspect", "revoke", "check_token"]);
    for e in &failures {
        assert_context(e, "client_auth.failed");
        assert_eq!(e["client_id"], svc.id.as_str(), "{e}");
    }
}

#[tokio::test]
async fn sign_ins_are_audited_as_succeeded_failed_and_locked() {
    let api = Api::start().await;
    let s = &api.s;
    let (svc, alice) = setup(s).await;
    assert_eq!(password_login(s, &svc, "alice", PASSWORD).await.status(), 200);
    // A password typed into the username field names no account: it is not stored.
    assert_eq!(password_login(s, &svc, "Tr0ub4dor&3", "x").await.status(), 400);
    for _ in 0..portcullis_core::throttle::PER_PAIR {
        assert_eq!(password_login(s, &svc, "alice", "wrong").await.status(), 400);
    }
    // The pair's limit is spent: refused before the password is checked.
    let locked = password_login(s, &svc, "alice", PASSWORD).await;
    assert_eq!(locked.status(), 400);
    let locked_request = request_id(&locked);

    let ok = events(&api, "sign_in.succeeded").await;
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_context(&ok[0], "sign_in.succeeded");
    assert_eq!((&ok[0]["actor"], &ok[0]["subject"]), (&"alice".into(), &alice.as_str().into()));
    assert_eq!((&ok[0]["client_id"], &ok[0]["action"]), (&svc.id.as_str().into(), &"password_grant".into()));

    let failed = events(&api, "sign_in.failed").await;
    assert_eq!(failed.len() as u32, portcullis_core::throttle::PER_PAIR + 1, "{failed:?}");
    for e in &failed {
        assert_context(e, "sign_in.failed");
    }
    assert_eq!((&failed[0]["actor"], &failed[0]["subject"]), (&Value::Null, &Value::Null), "{}", failed[0]);
    assert!(!failed[0].to_string().contains("Tr0ub4dor"));
    assert_eq!((&failed[1]["actor"], &failed[1]["subject"]), (&"alice".into(), &alice.as_str().into()));

    let locked = events(&api, "sign_in.locked").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_context(&locked[0], "sign_in.locked");
    assert_eq!(locked[0]["request_id"], locked_request.as_str());
    assert_eq!(locked[0]["actor"], "alice");
}

#[tokio::test]
async fn the_audit_listing_pages_filters_and_refuses_bad_input() {
    let api = Api::start().await;
    let s = &api.s;
    let (svc, _) = setup(s).await;
    for _ in 0..5 {
        s.token("default", &svc, None).await;
    }
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let q = after.as_ref().map_or(String::new(), |a| format!("&after={a}"));
        let page =
            api.expect(Method::GET, &format!("/realms/default/audit?kind=token.issued&limit=2{q}"), None, 200).await;
        seen += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let recent = api.expect(Method::GET, "/realms/default/audit?since=1h", None, 200).await;
    assert!(recent["items"].as_array().unwrap().len() >= 5);
    let future = api.expect(Method::GET, "/realms/default/audit?since=99999999999", None, 200).await;
    assert_eq!(future["items"], Value::Array(vec![]));
    for (query, field) in
        [("kind=token", "kind"), ("since=yesterday", "since"), ("after=xyz", "after"), ("limit=0", "limit")]
    {
        let body = api.expect(Method::GET, &format!("/realms/default/audit?{query}"), None, 400).await;
        assert!(body["fields"].get(field).is_some(), "{query}: {body}");
    }
    api.expect(Method::GET, "/realms/nowhere/audit", None, 404).await;
    // A token of another realm sees no realm here.
    api.expect(Method::POST, "/realms", Some(serde_json::json!({"name": "acme"})), 201).await;
    let acme = Api::token_for(s, Some("acme")).await;
    let r = api.call_as(Some(&acme), Method::GET, "/realms/default/audit", None).await;
    assert_eq!(r.status(), 404);
}

/// The background purge deletes events older than the retention and keeps the rest.
#[tokio::test]
async fn the_purge_deletes_audit_events_past_their_retention() {
    let api = Api::start().await;
    let s = &api.s;
    let (svc, _) = setup(s).await;
    s.token("default", &svc, None).await;
    s.clock.advance(2 * 86_400);
    s.token("default", &svc, None).await;
    assert_eq!(events(&api, "token.issued").await.len(), 2);
    let day = std::time::Duration::from_secs(86_400);
    let interval = std::time::Duration::from_millis(20);
    let purge = tokio::spawn(portcullis_core::purge::run_keeping_audit(
        s.store.clone(),
        s.clock.clone(),
        interval,
        portcullis_core::purge::DEFAULT_BATCH_SIZE,
        day,
    ));
    // Polled, not timed: the bound only keeps a broken purge from hanging the suite.
    let mut left = Vec::new();
    for _ in 0..250 {
        left = events(&api, "token.issued").await;
        if left.len() < 2 {
            break;
        }
        tokio::time::sleep(interval).await;
    }
    purge.abort();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["at"], s.clock.now());
}

/// With client_credentials issuance not audited (`--audit-client-credentials false`),
/// that grant's successes leave no event, while its failures and the other grants'
/// issuance are still recorded.
#[tokio::test]
async fn client_credentials_issuance_can_be_left_out_of_the_audit_log() {
    let api = Api::on(TestServer::start_configured(|s| s, |a| a.with_audit_client_credentials(false)).await).await;
    let s = &api.s;
    let (svc, _) = setup(s).await;
    let token_url = s.url("default", "/oauth/token");
    for _ in 0..3 {
        let r = s.post_form(&token_url, Some(&svc), &[("grant_type", "client_credentials")]).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(password_login(s, &svc, "alice", PASSWORD).await.status(), 200);
    let wrong = TestClient { id: svc.id.clone(), secret: "not-the-secret".into() };
    let r = s.post_form(&token_url, Some(&wrong), &[("grant_type", "client_credentials")]).await;
    assert_eq!(r.status(), 401);

    let issued = events(&api, "token.issued").await;
    let grant_types: Vec<&str> = issued.iter().map(|e| e["grant_type"].as_str().unwrap()).collect();
    assert_eq!(grant_types, ["password"], "only the password grant's token is audited: {issued:?}");
    assert_eq!(events(&api, "client_auth.failed").await.len(), 1, "failures stay audited");
}
