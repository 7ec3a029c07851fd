//! Apps, API keys and customers over HTTP (issue 12): customer login through an app's
//! key, kinds kept apart at introspection and check_token, test mode, permission bits,
//! app reset. Every case runs on SQLite and on PostgreSQL.

use base64::Engine;
use portcullis_core::admin::{ApiKeySpec, ClientSpec, RealmSettings, UserSpec};
use portcullis_core::clock::Clock;
use portcullis_core::model::{TokenFormat, UserKind};
use serde_json::{Value, json};

use crate::harness::{TestClient, TestServer, assert_error};

pub(crate) const REALM: &str = "acme";
const PASSWORD: &str = "correct horse battery";

/// One realm set up as a storefront would be.
pub(crate) struct Org {
    /// The app's id with a live API key as its secret.
    pub(crate) app: TestClient,
    pub(crate) rs: TestClient,
    pub(crate) customer_id: String,
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(crate) async fn key(s: &TestServer, app: &str, permissions: &[&str], test: bool) -> TestClient {
    let spec = ApiKeySpec { name: None, scope: Some("orders catalog".into()), permissions: names(permissions), test };
    let created = s.admin().create_api_key(REALM, app, &spec).await.unwrap();
    TestClient { id: created.key.app_id, secret: created.secret }
}

pub(crate) async fn org(s: &TestServer, format: TokenFormat) -> Org {
    let admin = s.admin();
    let settings = RealmSettings { token_format: Some(format), ..Default::default() };
    admin.create_realm(REALM, &settings).await.unwrap();
    for p in ["orders.read", "orders.write", "admin"] {
        admin.create_permission(REALM, p).await.unwrap();
    }
    admin.set_role_permissions(REALM, "buyer", &names(&["orders.read", "orders.write", "admin"])).await.unwrap();
    admin.create_app(REALM, "storefront").await.unwrap();
    let app = key(s, "storefront", &["orders.read", "orders.write"], false).await;
    let customer = UserSpec {
        username: Some("carol".into()),
        roles: Some(names(&["buyer"])),
        teams: Some(names(&["blue"])),
        kind: Some(UserKind::Customer),
        ..Default::default()
    };
    let customer_id = admin.create_user(REALM, &customer, Some(PASSWORD)).await.unwrap().id;
    let staff = UserSpec { username: Some("sam".into()), roles: Some(names(&["buyer"])), ..Default::default() };
    admin.create_user(REALM, &staff, Some(PASSWORD)).await.unwrap();
    let rs = s
        .client_with(REALM, ClientSpec { name: Some("rs".into()), resource_server: Some(true), ..Default::default() })
        .await;
    Org { app, rs, customer_id }
}

async fn login(s: &TestServer, app: &TestClient, user: &str) -> reqwest::Response {
    let form = [("grant_type", "password"), ("username", user), ("password", PASSWORD)];
    s.post_form(&s.url(REALM, "/oauth/token"), Some(app), &form).await
}

pub(crate) async fn customer_tokens(s: &TestServer, app: &TestClient) -> Value {
    let r = login(s, app, "carol").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn refresh(s: &TestServer, app: &TestClient, refresh_token: &str) -> reqwest::Response {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    s.post_form(&s.url(REALM, "/oauth/token"), Some(app), &form).await
}

async fn check_token(s: &TestServer, as_client: &TestClient, token: &str) -> reqwest::Response {
    s.post_form(&s.url(REALM, "/oauth/check_token"), Some(as_client), &[("token", token)]).await
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

async fn customer_tokens_carry_the_customer_bounded_by_the_key(s: TestServer) {
    let o = org(&s, TokenFormat::Opaque).await;
    let body = customer_tokens(&s, &o.app).await;
    assert_eq!(body["expires_in"], 3600, "customer tokens live an hour by default");
    let access = str_of(&body, "access_token");
    assert!(access.starts_with("pcct_"), "{access}");
    let seen = s.introspect(REALM, &o.rs, access).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["kind"], "customer");
    assert_eq!(seen["client_id"].as_str(), Some(o.app.id.as_str()), "the app");
    assert_eq!(seen["sub"].as_str(), Some(o.customer_id.as_str()), "the customer");
    assert_eq!(seen["iss"].as_str(), Some(s.issuer(REALM).as_str()), "the realm");
    assert_eq!(seen["scope"], "orders catalog");
    assert_eq!(seen["permissions"], json!(["orders.read", "orders.write"]), "admin is beyond the key");
    assert_eq!(seen["perm_bits"], "03");
    assert_eq!(seen["test"], false);
    assert_eq!(seen["authorities"], json!(["buyer"]));
    assert_eq!(seen["teams"], json!(["blue"]));
    // check_token carries the same bits and teams, for Spring-style resource servers.
    let checked: Value = check_token(&s, &o.rs, access).await.json().await.unwrap();
    assert_eq!(checked["kind"], "customer");
    assert_eq!(checked["perm_bits"], "03");
    assert_eq!(checked["teams"], json!(["blue"]));

    // Narrower scopes may be asked for; wider ones are refused.
    let form = [("grant_type", "password"), ("username", "carol"), ("password", PASSWORD), ("scope", "wider")];
    assert_error(s.post_form(&s.url(REALM, "/oauth/token"), Some(&o.app), &form).await, 400, "invalid_scope").await;

    // Refreshed through the app's key, still a customer token; the old refresh token is spent.
    let refreshed = refresh(&s, &o.app, str_of(&body, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let again = s.introspect(REALM, &o.rs, str_of(&refreshed, "access_token")).await;
    assert_eq!((again["kind"].as_str(), again["test"].as_bool()), (Some("customer"), Some(false)));
    assert_eq!(refreshed["scope"], "orders catalog", "bounded by the key's scope, not the app client's");
    assert_eq!(again["scope"], "orders catalog");
    assert_eq!(again["permissions"], json!(["orders.read", "orders.write"]));

    // The app's server signs the customer out (RFC 7009 with its key): the whole grant goes.
    let revoke = s
        .post_form(&s.url(REALM, "/oauth/revoke"), Some(&o.app), &[("token", str_of(&refreshed, "refresh_token"))])
        .await;
    assert_eq!(revoke.status(), 200);
    assert!(!s.is_active(REALM, &o.rs, str_of(&refreshed, "access_token")).await);
    let revoke = s.post_form(&s.url(REALM, "/oauth/revoke"), Some(&o.app), &[("token", &o.app.secret)]).await;
    assert_eq!(revoke.status(), 200);
    assert!(s.is_active(REALM, &o.rs, &o.app.secret).await, "an API key is not revoked through RFC 7009");

    // The lifetime is the realm's customer setting.
    s.admin().update_realm(REALM, &RealmSettings { customer_ttl: Some(120), ..Default::default() }).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the realm cache
    let short = customer_tokens(&s, &o.app).await;
    assert_eq!(short["expires_in"], 120);
    let short = str_of(&short, "access_token");
    assert!(s.is_active(REALM, &o.rs, short).await);
    s.clock.advance(121);
    assert!(!s.is_active(REALM, &o.rs, short).await, "expired after customer_ttl");
}

async fn kinds_are_kept_apart(s: TestServer) {
    let o = org(&s, TokenFormat::Opaque).await;
    // Staff do not sign in through an API key; customers not through an ordinary client.
    assert_error(login(&s, &o.app, "sam").await, 400, "invalid_grant").await;
    let first_party = s.password_client(REALM, "first-party").await;
    assert_error(login(&s, &first_party, "carol").await, 400, "invalid_grant").await;
    assert_eq!(login(&s, &first_party, "sam").await.status(), 200);

    // An API key presented as a token is kind api; a customer token is kind customer.
    let seen = s.introspect(REALM, &o.rs, &o.app.secret).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["kind"], "api");
    assert_eq!(seen["client_id"].as_str(), Some(o.app.id.as_str()));
    assert_eq!(seen["scope"], "orders catalog");
    assert_eq!(seen["permissions"], json!(["orders.read", "orders.write"]));
    assert_eq!(seen["perm_bits"], "03");
    assert!(seen.get("exp").is_none(), "API keys do not expire");
    let customer = customer_tokens(&s, &o.app).await;
    let checked: Value = check_token(&s, &o.rs, &o.app.secret).await.json().await.unwrap();
    assert_eq!(checked["kind"], "api");
    let checked: Value = check_token(&s, &o.rs, str_of(&customer, "access_token")).await.json().await.unwrap();
    assert_eq!(checked["kind"], "customer");

    // An API key is no refresh token, and a refresh token no API key.
    assert_error(refresh(&s, &o.app, &o.app.secret).await, 400, "invalid_grant").await;
    let as_key = TestClient { id: o.app.id.clone(), secret: str_of(&customer, "refresh_token").to_owned() };
    assert_error(login(&s, &as_key, "carol").await, 401, "invalid_client").await;

    // A mistyped key fails its checksum: never an API key, so never the app.
    let mut typo = o.app.secret.clone();
    typo.replace_range(20..21, if &typo[20..21] == "a" { "b" } else { "a" });
    let mistyped = TestClient { id: o.app.id.clone(), secret: typo.clone() };
    assert_error(login(&s, &mistyped, "carol").await, 401, "invalid_client").await;
    assert!(!s.is_active(REALM, &o.rs, &typo).await);
    // Another app's id with this app's key.
    s.admin().create_app(REALM, "backoffice").await.unwrap();
    let other_id = s.admin().app(REALM, "backoffice").await.unwrap().app_id;
    let crossed = TestClient { id: other_id, secret: o.app.secret.clone() };
    assert_error(login(&s, &crossed, "carol").await, 401, "invalid_client").await;
}

async fn a_test_key_yields_test_tokens(s: TestServer) {
    let o = org(&s, TokenFormat::Opaque).await;
    let test_key = key(&s, "storefront", &["orders.read"], true).await;
    assert!(test_key.secret.starts_with("pcak_test_"));
    assert_eq!(s.introspect(REALM, &o.rs, &test_key.secret).await["test"], true);
    let body = customer_tokens(&s, &test_key).await;
    let seen = s.introspect(REALM, &o.rs, str_of(&body, "access_token")).await;
    assert_eq!((seen["test"].as_bool(), seen["kind"].as_str()), (Some(true), Some("customer")));
    assert_eq!(seen["permissions"], json!(["orders.read"]));
    let refreshed: Value = refresh(&s, &test_key, str_of(&body, "refresh_token")).await.json().await.unwrap();
    assert_eq!(s.introspect(REALM, &o.rs, str_of(&refreshed, "access_token")).await["test"], true);
    // A live key's tokens are not test tokens.
    let live = customer_tokens(&s, &o.app).await;
    assert_eq!(s.introspect(REALM, &o.rs, str_of(&live, "access_token")).await["test"], false);
}

async fn app_reset_kills_exactly_that_apps_keys(s: TestServer) {
    let o = org(&s, TokenFormat::Opaque).await;
    let second = key(&s, "storefront", &[], false).await;
    s.admin().create_app(REALM, "backoffice").await.unwrap();
    let other = key(&s, "backoffice", &["orders.read"], false).await;
    let customer = customer_tokens(&s, &o.app).await;
    let other_customer = customer_tokens(&s, &other).await;

    let (_, revoked) = s.admin().reset_app(REALM, "storefront").await.unwrap();
    assert_eq!(revoked, 2);
    for k in [&o.app, &second] {
        assert!(!s.is_active(REALM, &o.rs, &k.secret).await);
        assert_error(login(&s, k, "carol").await, 401, "invalid_client").await;
    }
    assert!(!s.is_active(REALM, &o.rs, str_of(&customer, "access_token")).await, "customer tokens die with the keys");
    assert_error(refresh(&s, &second, str_of(&customer, "refresh_token")).await, 401, "invalid_client").await;

    // The other app's key and its customers' tokens still work.
    assert!(s.is_active(REALM, &o.rs, &other.secret).await);
    assert!(s.is_active(REALM, &o.rs, str_of(&other_customer, "access_token")).await);
    assert_eq!(login(&s, &other, "carol").await.status(), 200);
    // A key made after the reset works.
    let fresh = key(&s, "storefront", &[], false).await;
    assert_eq!(login(&s, &fresh, "carol").await.status(), 200);
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn permission_bits_round_trip_through_jwt_and_introspection(s: TestServer) {
    let o = org(&s, TokenFormat::Jwt).await;
    // Bits 0 and 1 are orders.read and orders.write; free bit 0 and make a new permission
    // to show the bits follow the names, not the order of creation.
    s.admin().delete_permission(REALM, "orders.read").await.unwrap();
    let again = s.admin().create_permission(REALM, "orders.read").await.unwrap();
    assert_eq!(again.bit, 0);
    for i in 3..9 {
        s.admin().create_permission(REALM, &format!("filler{i}")).await.unwrap();
    }
    let wide = s.admin().create_permission(REALM, "refunds").await.unwrap();
    assert_eq!(wide.bit, 9);
    s.admin().set_role_permissions(REALM, "buyer", &names(&["orders.read", "orders.write", "refunds"])).await.unwrap();
    let k = key(&s, "storefront", &["orders.read", "orders.write", "refunds"], false).await;

    let body = customer_tokens(&s, &k).await;
    let token = str_of(&body, "access_token");
    let claims = jwt_claims(token);
    assert_eq!(claims["kind"], "customer");
    assert_eq!(claims["perm_bits"], "0203", "bits 0, 1 and 9");
    let bits = portcullis_core::org::parse_perm_bits(str_of(&claims, "perm_bits")).unwrap();
    assert_eq!(bits, vec![0, 1, 9]);
    assert_eq!(claims["permissions"], json!(["orders.read", "orders.write", "refunds"]));
    assert_eq!(claims["teams"], json!(["blue"]));
    assert_eq!(claims["test"], false);
    let seen = s.introspect(REALM, &o.rs, token).await;
    assert_eq!(seen["perm_bits"], claims["perm_bits"]);
    assert_eq!(seen["permissions"], claims["permissions"]);
    assert_eq!(seen["teams"], claims["teams"]);
    assert_eq!(seen["kind"], "customer");
}

async fn last_use_is_written_in_batches_not_per_request(s: TestServer) {
    let o = org(&s, TokenFormat::Opaque).await;
    let id = |k: &TestClient| k.secret[10..42].to_owned();
    let last_used = async |s: &TestServer| s.admin().api_key(REALM, &id(&o.app)).await.unwrap().last_used_at;
    s.authority.api_key_usage.flush(s.store.as_ref()).await.unwrap();
    customer_tokens(&s, &o.app).await;
    assert!(s.is_active(REALM, &o.rs, &o.app.secret).await);
    assert_eq!(last_used(&s).await, None, "nothing written by the requests themselves");
    assert_eq!(s.authority.api_key_usage.flush(s.store.as_ref()).await.unwrap(), 1, "two uses, one key, one row");
    let first = last_used(&s).await.expect("written by the flush");
    assert_eq!(first, s.clock.now());
    s.clock.advance(30);
    customer_tokens(&s, &o.app).await;
    assert_eq!(s.authority.api_key_usage.flush(s.store.as_ref()).await.unwrap(), 0, "at most once a minute per key");
    s.clock.advance(31);
    customer_tokens(&s, &o.app).await;
    assert_eq!(s.authority.api_key_usage.flush(s.store.as_ref()).await.unwrap(), 1);
    assert_eq!(last_used(&s).await, Some(first + 61));
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::harness::TestServer::start().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::on_postgres(stringify!($case), super::$case).await
                }
            )*
        }
    };
}

on_both!(
    customer_tokens_carry_the_customer_bounded_by_the_key,
    kinds_are_kept_apart,
    a_test_key_yields_test_tokens,
    app_reset_kills_exactly_that_apps_keys,
    permission_bits_round_trip_through_jwt_and_introspection,
    last_use_is_written_in_batches_not_per_request,
);
