//! A refresh racing a revocation of its grant (SECURITY-CASES R3; Keycloak #51312):
//! whichever finishes first, once both have returned no token of the family is
//! active, including the pair the refresh may have issued. On SQLite (one instance)
//! and on PostgreSQL (the refresh at one instance, the revocation at another).

use reqwest::Method;
use serde_json::Value;

use crate::admin_api::Api;
use crate::harness::{TestClient, TestServer, on_postgres};

const PASSWORD: &str = "correct horse battery";
const ROUNDS: usize = 40;

#[derive(Clone, Copy, Debug)]
enum Revocation {
    /// RFC 7009 revocation of the refresh token by its client.
    RefreshToken,
    /// `POST /admin/realms/R/grants/ID/revoke`.
    Grant,
}

async fn race(refresher: &TestServer, revoker: &TestServer, how: Revocation) {
    let client = refresher.password_client("default", &format!("app-{how:?}")).await;
    let rs = refresher
        .client_with(
            "default",
            portcullis_core::admin::ClientSpec {
                name: Some(format!("rs-{how:?}")),
                resource_server: Some(true),
                ..Default::default()
            },
        )
        .await;
    let admin_token = Api::token_for(refresher, None).await;
    let mut outcomes = [0usize; 2];
    for round in 0..ROUNDS {
        let form = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
        let r = refresher.post_form(&refresher.url("default", "/oauth/token"), Some(&client), &form).await;
        assert_eq!(r.status(), 200);
        let t: Value = r.json().await.unwrap();
        let (access, refresh) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
        let grant = match how {
            Revocation::Grant => Some(newest_grant(revoker, &admin_token, &client).await),
            Revocation::RefreshToken => None,
        };

        let refreshing = refresher.refresh("default", &client, refresh, None);
        let revoking = async {
            match &grant {
                None => {
                    let url = revoker.url("default", "/oauth/revoke");
                    revoker.post_form(&url, Some(&client), &[("token", refresh)]).await.status().as_u16()
                }
                Some(id) => {
                    let url = format!("{}/admin/realms/default/grants/{id}/revoke", revoker.base);
                    let r = revoker.http.request(Method::POST, url).bearer_auth(&admin_token).send();
                    r.await.unwrap().status().as_u16()
                }
            }
        };
        let (refreshed, revoked) = tokio::join!(refreshing, revoking);
        assert!(revoked < 300, "round {round}: revocation answered {revoked}");

        let mut family = vec![access.to_owned(), refresh.to_owned()];
        let status = refreshed.status().as_u16();
        if status == 200 {
            outcomes[0] += 1;
            let t: Value = refreshed.json().await.unwrap();
            family.push(t["access_token"].as_str().unwrap().to_owned());
            family.push(t["refresh_token"].as_str().unwrap().to_owned());
            let again = revoker.refresh("default", &client, family.last().unwrap(), None).await;
            assert_eq!(again.status(), 400, "round {round}: the refresh's new token refreshes no more");
        } else {
            assert_eq!(status, 400, "round {round}: a refresh that lost answers invalid_grant");
            outcomes[1] += 1;
        }
        for (i, token) in family.iter().enumerate() {
            for s in [refresher, revoker] {
                assert!(
                    !s.is_active("default", &rs, token).await,
                    "round {round} ({how:?}): token {i} of the family is active"
                );
            }
        }
    }
    // Both orders happened at least once, or the race proved little.
    println!("{how:?}: refresh won the race {} times, lost {} times", outcomes[0], outcomes[1]);
}

/// The grant of `client`'s newest token, through the admin API (grants are listed
/// oldest first, one per sign-in).
async fn newest_grant(s: &TestServer, admin_token: &str, client: &TestClient) -> String {
    let url = format!("{}/admin/realms/default/grants?client={}&limit=200", s.base, client.id);
    let page: Value = s.http.get(url).bearer_auth(admin_token).send().await.unwrap().json().await.unwrap();
    page["items"].as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_racing_revocation_leaves_no_live_token_on_sqlite() {
    let s = TestServer::start().await;
    s.user("default", "alice", PASSWORD, &[]).await;
    race(&s, &s, Revocation::RefreshToken).await;
    race(&s, &s, Revocation::Grant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_racing_revocation_leaves_no_live_token_across_instances_on_postgres() {
    on_postgres("refresh_racing_revocation_leaves_no_live_token_across_instances_on_postgres", |a| async move {
        let b = a.another_instance().await;
        a.user("default", "alice", PASSWORD, &[]).await;
        race(&a, &b, Revocation::RefreshToken).await;
        race(&a, &b, Revocation::Grant).await;
    })
    .await;
}
