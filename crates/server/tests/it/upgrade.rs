//! A populated database upgraded through every migration (SECURITY-CASES R7), on
//! SQLite and PostgreSQL. The database is built one migration at a time, as a
//! deployment that upgraded through every release would be: after each migration the
//! rows that schema version introduced are inserted (`fill`), so every row meets
//! every later migration. Then the server starts on it and the old rows work: old
//! tokens introspect, old clients authenticate, an old password signs in, an old
//! refresh token refreshes, an old code is exchanged, an old API key is recognised,
//! and JWTs keep verifying under the old signing key.
//!
//! The migrations are iterated from the migrators, so a new migration is covered as
//! soon as it exists; one that adds a table must add its rows to `fill` too, or the
//! check that every table has rows fails and says which.

use std::str::FromStr;

use portcullis_core::model::{SigningAlg, TokenFormat, TokenKind};
use portcullis_core::secret::{SecretHasher, random_bytes, sha256};
use portcullis_core::token::jwt::{self, AccessTokenClaims};
use portcullis_core::token::keys::{self, KeyRing};
use portcullis_core::token::{api_key, new_token_id, opaque, token_id_hex};
use serde_json::Value;
use sqlx::Connection;
use sqlx::migrate::Migrator;

use crate::browser::REDIRECT;
use crate::harness::{Peer, TestClient, TestServer};

static SQLITE: Migrator = sqlx::migrate!("../store/migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../store/migrations/postgres");

const PUBLIC_URL: &str = "http://portcullis.test";
const SECRET: &str = "an old client secret";
const PASSWORD: &str = "correct horse battery";
const REALM: &str = "old";
const JWT_REALM: &str = "oldjwt";

/// What the old rows hold that a client would present: the strings the database
/// only has hashes of.
struct Old {
    now: i64,
    pepper: [u8; 32],
    access: opaque::MintedOpaque,
    refresh: opaque::MintedOpaque,
    code: opaque::MintedOpaque,
    code_verifier: String,
    jwt: String,
    jwt_id: [u8; 16],
    jwt_key: portcullis_core::model::SigningKeyRecord,
    opaque_key: portcullis_core::model::SigningKeyRecord,
    api_key: api_key::MintedApiKey,
    grants: [[u8; 16]; 3],
}

impl Old {
    fn new() -> Self {
        let now = portcullis_core::clock::Clock::now(&portcullis_core::clock::SystemClock);
        let jwt_key = keys::generate(JWT_REALM, SigningAlg::Es256, now - 60).unwrap();
        let jwt_id = new_token_id();
        let ring = KeyRing::load(std::slice::from_ref(&jwt_key)).unwrap();
        let claims = AccessTokenClaims {
            iss: format!("{PUBLIC_URL}/realms/{JWT_REALM}"),
            aud: format!("{PUBLIC_URL}/realms/{JWT_REALM}"),
            sub: "svc".into(),
            client_id: "svc".into(),
            exp: now + 3600,
            iat: now - 60,
            jti: token_id_hex(&jwt_id),
            scope: "read".into(),
            kind: "access".into(),
            permissions: Vec::new(),
            test: false,
            username: None,
            authorities: None,
            nbf: None,
            perm_bits: None,
            teams: Vec::new(),
        };
        let jwt = jwt::sign(ring.signer(SigningAlg::Es256).unwrap(), &claims).unwrap();
        let code_verifier = portcullis_core::secret::random_token_string();
        Self {
            now,
            pepper: random_bytes(),
            access: opaque::mint(TokenKind::Access),
            refresh: opaque::mint(TokenKind::Refresh),
            code: opaque::mint_code(),
            code_verifier,
            jwt,
            jwt_id,
            jwt_key,
            opaque_key: keys::generate(REALM, SigningAlg::Es256, now - 60).unwrap(),
            api_key: api_key::mint(false),
            grants: [random_bytes(), random_bytes(), random_bytes()],
        }
    }

    fn client(&self, id: &str) -> TestClient {
        let secret = if id == "web" { String::new() } else { SECRET.to_owned() };
        TestClient { id: id.into(), secret }
    }
}

/// Inserts the rows schema `version` introduced. The SQL is the same on both
/// databases: `$n` placeholders, and values whose types both map (`bool` is BOOLEAN on
/// PostgreSQL and 0/1 on SQLite).
macro_rules! fill {
    ($conn:expr, $version:expr, $old:expr) => {{
        let old: &Old = $old;
        let now = old.now;
        let hash = SecretHasher::new(&old.pepper).hash(SECRET);
        let mut statements: Vec<(&str, Vec<Bind>)> = Vec::new();
        match $version {
            1 => {
                statements.push(("INSERT INTO settings (name, value) VALUES ('pepper', $1)", vec![Bind::Bytes(old.pepper.to_vec())]));
                for (realm, format) in [(REALM, TokenFormat::Opaque), (JWT_REALM, TokenFormat::Jwt)] {
                    statements.push((
                        "INSERT INTO realms (name, access_ttl, refresh_ttl, token_format, signing_alg, created_at, updated_at) \
                         VALUES ($1, 3600, 86400, $2, 'ES256', $3, $3)",
                        vec![Bind::Text(realm.into()), Bind::Text(format.as_str().into()), Bind::Int(now - 100)],
                    ));
                }
                for key in [&old.jwt_key, &old.opaque_key] {
                    statements.push((
                        "INSERT INTO signing_keys (kid, realm, alg, private_pem, created_at, retired_at, verify_until) \
                         VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                        vec![
                            Bind::Text(key.kid.clone()),
                            Bind::Text(key.realm.clone()),
                            Bind::Text(key.alg.as_str().into()),
                            Bind::Text(key.private_pem.clone()),
                            Bind::Int(key.created_at),
                        ],
                    ));
                }
                let clients = [
                    (REALM, "svc", Some(hash.clone()), "client_secret_basic", "client_credentials", "", true),
                    (JWT_REALM, "svc", Some(hash.clone()), "client_secret_basic", "client_credentials", "", true),
                    (REALM, "app", Some(hash.clone()), "client_secret_basic", "password refresh_token", "", false),
                    (REALM, "web", None, "none", "authorization_code refresh_token", REDIRECT, false),
                ];
                for (realm, id, secret, method, grants, redirect, rs) in clients {
                    statements.push((
                        "INSERT INTO clients (realm, client_id, name, secret_hash, auth_method, grant_types, \
                         redirect_uris, scopes, default_scopes, access_ttl, refresh_ttl, resource_server, disabled, \
                         created_at, updated_at) \
                         VALUES ($1, $2, $2, $3, $4, $5, $6, 'read', '', NULL, NULL, $7, $8, $9, $9)",
                        vec![
                            Bind::Text(realm.into()),
                            Bind::Text(id.into()),
                            Bind::OptBytes(secret),
                            Bind::Text(method.into()),
                            Bind::Text(grants.into()),
                            Bind::Text(redirect.into()),
                            Bind::Bool(rs),
                            Bind::Bool(false),
                            Bind::Int(now - 100),
                        ],
                    ));
                }
                let tokens = [
                    (old.access.id, REALM, Some(old.access.verifier_hash.to_vec())),
                    (old.jwt_id, JWT_REALM, None),
                ];
                for (id, realm, verifier) in tokens {
                    statements.push((
                        "INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, \
                         grant_id, permissions, test, issued_at, expires_at, revoked_at) \
                         VALUES ($1, $2, 'access', $3, 'svc', 'svc', NULL, 'read', NULL, '', $4, $5, $6, NULL)",
                        vec![
                            Bind::Bytes(id.to_vec()),
                            Bind::Text(realm.into()),
                            Bind::OptBytes(verifier),
                            Bind::Bool(false),
                            Bind::Int(now - 60),
                            Bind::Int(now + 3600),
                        ],
                    ));
                }
            }
            2 => {
                let password_hash = portcullis_core::password::hash(PASSWORD).unwrap();
                statements.push((
                    "INSERT INTO users (realm, id, username, username_key, password_hash, roles, teams, kind, disabled, \
                     created_at, updated_at) VALUES ($1, 'u-alice', 'Alice', 'alice', $2, 'reader', '', 'staff', $3, $4, $4)",
                    vec![Bind::Text(REALM.into()), Bind::Text(password_hash), Bind::Bool(false), Bind::Int(now - 90)],
                ));
                for (grant, client) in [(old.grants[0], "app"), (old.grants[1], "web")] {
                    statements.push((
                        "INSERT INTO grants (id, realm, client_id, subject, username, scope, teams, permissions, test, \
                         created_at, revoked_at) VALUES ($1, $2, $3, 'u-alice', 'Alice', 'read', '', '', $4, $5, NULL)",
                        vec![
                            Bind::Bytes(grant.to_vec()),
                            Bind::Text(REALM.into()),
                            Bind::Text(client.into()),
                            Bind::Bool(false),
                            Bind::Int(now - 80),
                        ],
                    ));
                }
                statements.push((
                    "INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, grant_id, \
                     permissions, test, issued_at, expires_at, revoked_at, used_at) \
                     VALUES ($1, $2, 'refresh', $3, 'app', 'u-alice', 'Alice', 'read', $4, '', $5, $6, $7, NULL, NULL)",
                    vec![
                        Bind::Bytes(old.refresh.id.to_vec()),
                        Bind::Text(REALM.into()),
                        Bind::Bytes(old.refresh.verifier_hash.to_vec()),
                        Bind::Bytes(old.grants[0].to_vec()),
                        Bind::Bool(false),
                        Bind::Int(now - 80),
                        Bind::Int(now + 86_400),
                    ],
                ));
                statements.push((
                    "INSERT INTO authorization_codes (id, verifier_hash, realm, client_id, grant_id, redirect_uri, \
                     redirect_uri_given, code_challenge, code_challenge_method, issued_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, 'web', $4, $5, $6, $7, 'S256', $8, $9, NULL)",
                    vec![
                        Bind::Bytes(old.code.id.to_vec()),
                        Bind::Bytes(old.code.verifier_hash.to_vec()),
                        Bind::Text(REALM.into()),
                        Bind::Bytes(old.grants[1].to_vec()),
                        Bind::Text(REDIRECT.into()),
                        Bind::Bool(true),
                        Bind::Text(portcullis_core::pkce::s256(&old.code_verifier)),
                        Bind::Int(now - 10),
                        Bind::Int(now + 600),
                    ],
                ));
                let session = sha256(b"an old session");
                statements.push((
                    "INSERT INTO sessions (id_hash, realm, user_id, authenticated_at, created_at, expires_at) \
                     VALUES ($1, $2, 'u-alice', $3, $3, $4)",
                    vec![
                        Bind::Bytes(session.to_vec()),
                        Bind::Text(REALM.into()),
                        Bind::Int(now - 70),
                        Bind::Int(now + 3600),
                    ],
                ));
                statements.push((
                    "INSERT INTO authorization_requests (id, realm, session_hash, client_id, redirect_uri, \
                     redirect_uri_given, response_type, response_mode, scope, state, code_challenge, \
                     code_challenge_method, prompt, csrf_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, 'web', $4, $5, 'code', 'query', 'read', 'xyz', NULL, NULL, NULL, $6, $7, $8)",
                    vec![
                        Bind::Bytes(new_token_id().to_vec()),
                        Bind::Text(REALM.into()),
                        Bind::Bytes(session.to_vec()),
                        Bind::Text(REDIRECT.into()),
                        Bind::Bool(true),
                        Bind::Bytes(sha256(b"csrf").to_vec()),
                        Bind::Int(now - 70),
                        Bind::Int(now + 600),
                    ],
                ));
                statements.push((
                    "INSERT INTO consents (realm, user_id, client_id, scope, granted_at) VALUES ($1, 'u-alice', 'web', 'read', $2)",
                    vec![Bind::Text(REALM.into()), Bind::Int(now - 70)],
                ));
                statements.push((
                    "INSERT INTO login_attempts (key, count, window_start) VALUES ('old', 1, $1)",
                    vec![Bind::Int(now - 70)],
                ));
            }
            4 => statements.push((
                "INSERT INTO sign_in_failures (realm, account, address, failures, window_start) \
                 VALUES ($1, 'bob', '203.0.113.9', 1, $2)",
                vec![Bind::Text(REALM.into()), Bind::Int(now - 50)],
            )),
            6 => {
                statements.push((
                    "INSERT INTO clients (realm, client_id, name, secret_hash, auth_method, grant_types, redirect_uris, \
                     scopes, default_scopes, access_ttl, refresh_ttl, resource_server, disabled, created_at, updated_at) \
                     VALUES ($1, 'store', 'store', NULL, 'client_secret_basic', 'password refresh_token', '', 'read', '', \
                     NULL, NULL, $2, $2, $3, $3)",
                    vec![Bind::Text(REALM.into()), Bind::Bool(false), Bind::Int(now - 40)],
                ));
                statements.push((
                    "INSERT INTO apps (realm, app_id, created_at, reset_at) VALUES ($1, 'store', $2, NULL)",
                    vec![Bind::Text(REALM.into()), Bind::Int(now - 40)],
                ));
                statements.push((
                    "INSERT INTO api_keys (id, realm, app_id, name, verifier_hash, scope, permissions, test, created_at, \
                     last_used_at, revoked_at) VALUES ($1, $2, 'store', 'old key', $3, 'read', 'orders.read', $4, $5, NULL, NULL)",
                    vec![
                        Bind::Bytes(old.api_key.id.to_vec()),
                        Bind::Text(REALM.into()),
                        Bind::Bytes(old.api_key.verifier_hash.to_vec()),
                        Bind::Bool(false),
                        Bind::Int(now - 40),
                    ],
                ));
                statements.push((
                    "INSERT INTO permissions (realm, name, bit, created_at) VALUES ($1, 'orders.read', 0, $2)",
                    vec![Bind::Text(REALM.into()), Bind::Int(now - 40)],
                ));
                statements.push((
                    "INSERT INTO role_permissions (realm, role, permission) VALUES ($1, 'reader', 'orders.read')",
                    vec![Bind::Text(REALM.into())],
                ));
                statements.push((
                    "INSERT INTO grants (id, realm, client_id, subject, username, scope, teams, permissions, test, \
                     created_at, revoked_at) VALUES ($1, $2, 'store', 'u-alice', 'Alice', 'read', '', 'orders.read', $3, $4, NULL)",
                    vec![Bind::Bytes(old.grants[2].to_vec()), Bind::Text(REALM.into()), Bind::Bool(false), Bind::Int(now - 30)],
                ));
                statements.push((
                    "INSERT INTO customer_grants (grant_id, api_key_id) VALUES ($1, $2)",
                    vec![Bind::Bytes(old.grants[2].to_vec()), Bind::Bytes(old.api_key.id.to_vec())],
                ));
            }
            7 => statements.push((
                "INSERT INTO admin_tokens (id, realm, verifier_hash, created_at, revoked_at) VALUES ($1, NULL, $2, $3, NULL)",
                vec![Bind::Bytes(new_token_id().to_vec()), Bind::Bytes(sha256(b"old admin").to_vec()), Bind::Int(now - 20)],
            )),
            // A migration that only alters or indexes what exists: the rows above meet it.
            _ => {}
        }
        for (sql, binds) in statements {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = match b {
                    Bind::Text(v) => q.bind(v),
                    Bind::Int(v) => q.bind(v),
                    Bind::Bool(v) => q.bind(v),
                    Bind::Bytes(v) => q.bind(v),
                    Bind::OptBytes(v) => q.bind(v),
                };
            }
            q.execute(&mut $conn).await.unwrap_or_else(|e| panic!("schema {}: {sql}: {e}", $version));
        }
    }};
}

enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    OptBytes(Option<Vec<u8>>),
}

/// Applies every migration in turn, filling after each.
async fn build(url: &str, old: &Old) {
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap().create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql("PRAGMA foreign_keys = ON").execute(&mut conn).await.unwrap();
        for m in SQLITE.iter() {
            SQLITE.run_direct(Some(m.version), &mut conn, false).await.unwrap();
            fill!(conn, m.version, old);
        }
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for m in POSTGRES.iter() {
            POSTGRES.run_direct(Some(m.version), &mut conn, false).await.unwrap();
            fill!(conn, m.version, old);
        }
        conn.close().await.unwrap();
    }
}

async fn old_rows_keep_working(url: String) {
    let old = Old::new();
    build(&url, &old).await;
    let empty: Vec<_> = portcullis_store::testing::row_counts(&url)
        .await
        .into_iter()
        .filter(|(_, n)| *n == 0)
        .map(|(table, _)| table)
        .collect();
    assert!(empty.is_empty(), "tables no fill step gave rows (add them to `fill`): {empty:?}");

    let s = TestServer::on_database(&url, Peer { public_url: Some(PUBLIC_URL.into()), ..Peer::default() }).await;
    let (svc, app, web) = (old.client("svc"), old.client("app"), old.client("web"));

    // Old tokens introspect; old clients authenticate with their old secrets.
    let info = s.introspect(REALM, &svc, &old.access.token).await;
    assert_eq!((info["active"].as_bool(), info["client_id"].as_str()), (Some(true), Some("svc")), "{info}");
    let fresh = s.token(REALM, &svc, None).await;
    assert!(s.is_active(REALM, &svc, &fresh).await);

    // The old key verifies the old JWT and signs new ones.
    assert!(s.is_active(JWT_REALM, &svc, &old.jwt).await, "the JWT signed before the upgrade");
    let new_jwt = s.token(JWT_REALM, &svc, None).await;
    assert_eq!(jsonwebtoken::decode_header(&new_jwt).unwrap().kid.unwrap(), old.jwt_key.kid);

    // The old user signs in with the old password; the old refresh token refreshes.
    let form = [("grant_type", "password"), ("username", "alice"), ("password", PASSWORD)];
    let r = s.post_form(&s.url(REALM, "/oauth/token"), Some(&app), &form).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = s.refresh(REALM, &app, &old.refresh.token, None).await;
    assert_eq!(r.status(), 200, "the old refresh token");
    let rotated: Value = r.json().await.unwrap();
    assert!(s.is_active(REALM, &app, rotated["access_token"].as_str().unwrap()).await);

    // The old code, issued before the upgrade, is exchanged once.
    let r = s.exchange(REALM, &web, &old.code.token, Some(&old.code_verifier)).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The old API key is recognised as what it is.
    let info = s.introspect(REALM, &svc, &old.api_key.key).await;
    assert_eq!((info["active"].as_bool(), info["kind"].as_str()), (Some(true), Some("api")), "{info}");
}

#[tokio::test]
async fn a_populated_sqlite_database_upgraded_through_every_migration_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    old_rows_keep_working(format!("sqlite://{}", dir.path().join("old.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_postgres_database_upgraded_through_every_migration_keeps_working() {
    let case = "a_populated_postgres_database_upgraded_through_every_migration_keeps_working";
    let Some(db) = portcullis_store::testing::TestDatabase::create(case).await else { return };
    let outcome = tokio::spawn(old_rows_keep_working(db.url.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
