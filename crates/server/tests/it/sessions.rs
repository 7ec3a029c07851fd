//! A browser session ends when its user's password is set, or the account is disabled
//! or deleted: the old cookie then meets the login form, never a silent code. The
//! changes go through the store (the Admin API the CLI uses), never this server.

use portcullis_core::admin::UserSpec;

use crate::browser::{Browser, REDIRECT, authorize_url, location, param, redirect_params};
use crate::harness::{TestClient, TestServer};

const PASSWORD: &str = "correct horse battery";

fn query(client: &TestClient) -> [(&str, &str); 4] {
    [("response_type", "code"), ("client_id", &client.id), ("redirect_uri", REDIRECT), ("scope", "invoices.read")]
}

/// A browser signed in as alice that has approved `client` (confidential, so the next
/// authorization request is answered with a code straight away).
async fn signed_in(s: &TestServer, client: &TestClient) -> Browser {
    let b = Browser::new();
    b.authorize_and_allow(s, "default", &query(client), "alice", PASSWORD).await;
    let r = b.get(&authorize_url(s, "default", &query(client))).await;
    assert_eq!(r.status(), 303, "signed in: a code without a page");
    assert!(param(&redirect_params(&location(&r)), "code").is_some());
    b
}

async fn assert_login_form(s: &TestServer, b: &Browser, client: &TestClient) {
    let r = b.get(&authorize_url(s, "default", &query(client))).await;
    assert_eq!(r.status(), 200, "the old cookie must meet the login form, not get a code");
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "{page}");
}

async fn setup() -> (TestServer, TestClient) {
    let s = TestServer::start().await;
    let client = s.code_client("default", "Server App", false).await;
    s.user("default", "alice", PASSWORD, &[]).await;
    (s, client)
}

#[tokio::test]
async fn a_new_password_ends_the_users_browser_sessions() {
    let (s, client) = setup().await;
    let b = signed_in(&s, &client).await;
    s.admin().set_password("default", "alice", "a brand new passphrase").await.unwrap();
    assert_login_form(&s, &b, &client).await;
}

/// Enabled again, the account still needs a new sign-in: the session ended with the
/// disabling, it was not merely hidden while the account was off.
#[tokio::test]
async fn disabling_the_account_ends_its_browser_sessions_for_good() {
    let (s, client) = setup().await;
    let b = signed_in(&s, &client).await;
    let disabled = |d| UserSpec { disabled: Some(d), ..Default::default() };
    s.admin().update_user("default", "alice", &disabled(true)).await.unwrap();
    assert_login_form(&s, &b, &client).await;
    s.admin().update_user("default", "alice", &disabled(false)).await.unwrap();
    assert_login_form(&s, &b, &client).await;
}

#[tokio::test]
async fn deleting_the_account_ends_its_browser_sessions() {
    let (s, client) = setup().await;
    let b = signed_in(&s, &client).await;
    s.admin().delete_user("default", "alice").await.unwrap();
    assert_login_form(&s, &b, &client).await;
}

/// Other changes to the account leave its sessions alone.
#[tokio::test]
async fn other_account_changes_keep_the_session() {
    let (s, client) = setup().await;
    let b = signed_in(&s, &client).await;
    let roles = UserSpec { roles: Some(vec!["auditor".into()]), ..Default::default() };
    s.admin().update_user("default", "alice", &roles).await.unwrap();
    let r = b.get(&authorize_url(&s, "default", &query(&client))).await;
    assert_eq!(r.status(), 303);
}
