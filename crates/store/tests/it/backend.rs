//! Connecting, migrations, settings, and what the SQL layer must not mangle.

use std::sync::Arc;

use portcullis_core::store::{Store, StoreError};

use crate::fixtures::{self, NOW};
use crate::harness;

pub async fn migrations_are_idempotent(url: String) {
    let first = harness::open(&url).await;
    fixtures::create_realm(&first, "acme").await;
    let pepper = first.pepper(b"pepper-1").await.unwrap();
    drop(first);

    let second = harness::open(&url).await;
    assert!(second.get_realm("acme").await.unwrap().is_some());
    assert_eq!(second.pepper(b"pepper-2").await.unwrap(), pepper);
    drop(second);

    // A third time, while the second store's connections may still be closing.
    let third = harness::open(&url).await;
    assert_eq!(third.list_realms().await.unwrap().len(), 1);
}

/// Two instances starting together on an empty database (the server and the CLI,
/// say) must not both try to create the schema.
pub async fn concurrent_connects_migrate_once(url: String) {
    let (a, b) = tokio::join!(harness::open(&url), harness::open(&url));
    fixtures::create_realm(&a, "acme").await;
    assert!(b.get_realm("acme").await.unwrap().is_some());
}

pub async fn settings_are_kept_or_replaced_as_asked(store: Arc<dyn Store>) {
    assert_eq!(store.setting("public_url").await.unwrap(), None);
    assert_eq!(store.put_setting("public_url", b"http://a", true).await.unwrap(), b"http://a");
    assert_eq!(store.put_setting("public_url", b"http://b", true).await.unwrap(), b"http://a", "kept");
    assert_eq!(store.setting("public_url").await.unwrap().as_deref(), Some(&b"http://a"[..]));
    assert_eq!(store.put_setting("public_url", b"http://c", false).await.unwrap(), b"http://c", "replaced");
    assert_eq!(store.setting("public_url").await.unwrap().as_deref(), Some(&b"http://c"[..]));
    // Settings are independent of each other.
    assert_eq!(store.pepper(b"p").await.unwrap(), b"p");
    assert_eq!(store.setting("public_url").await.unwrap().as_deref(), Some(&b"http://c"[..]));
}

pub async fn pepper_is_kept_on_first_write(store: Arc<dyn Store>) {
    assert_eq!(store.pepper(b"first").await.unwrap(), b"first");
    assert_eq!(store.pepper(b"second").await.unwrap(), b"first");
    let binary = [0u8, 255, 0, 1];
    assert_eq!(store.pepper(&binary).await.unwrap(), b"first");
}

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

/// SQL injection attempts, emoji and NUL in a client name come back as they went in,
/// and find the client by name. PostgreSQL cannot hold NUL in TEXT: there it must be
/// an error, not a panic and not a silently altered name.
pub async fn hostile_strings_round_trip(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let name = "Robert'); DROP TABLE clients; -- ' OR 1=1 -- \u{1f980} \"x\" \\ %_";
    let c = fixtures::client("acme", "hostile", name);
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("acme", "hostile").await.unwrap().unwrap(), c);
    assert_eq!(store.find_client("acme", name).await.unwrap().unwrap(), c);
    assert_eq!(store.list_clients("acme").await.unwrap(), std::slice::from_ref(&c));
    // The injection did not widen the lookup.
    assert_eq!(store.find_client("acme", "x' OR 1=1 --").await.unwrap(), None);

    let with_nul = fixtures::client("acme", "nul", "a\0b' OR 1=1 -- \u{1f600}");
    match (store.backend(), store.create_client(&with_nul).await) {
        ("sqlite", Ok(())) => {
            assert_eq!(store.get_client("acme", "nul").await.unwrap().unwrap(), with_nul);
            assert_eq!(store.find_client("acme", &with_nul.name).await.unwrap().unwrap(), with_nul);
        }
        ("postgres", Err(StoreError::Backend(_))) => {
            assert_eq!(store.get_client("acme", "nul").await.unwrap(), None);
        }
        (backend, other) => panic!("{backend}: NUL in a name gave {other:?}"),
    }
}

/// A comma is a legal character in a redirect URI and in a scope token, and must not
/// split an item in two; an item that could not come back intact is refused.
pub async fn list_items_round_trip_exactly(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "acme").await;
    let mut c = fixtures::client("acme", "commas", "commas");
    c.redirect_uris = vec!["https://app.example/cb?a=1,2&b=%20".to_owned()];
    c.scopes = vec!["a,b".to_owned(), "c".to_owned()];
    c.grant_types = vec![];
    c.default_scopes = vec![];
    store.create_client(&c).await.unwrap();
    assert_eq!(store.get_client("acme", "commas").await.unwrap().unwrap(), c);

    let mut bad = fixtures::client("acme", "bad", "bad");
    bad.redirect_uris = vec!["https://a.example/\nhttps://evil.example/".to_owned()];
    assert!(matches!(store.create_client(&bad).await, Err(StoreError::Backend(_))));
    bad.redirect_uris = vec![];
    bad.scopes = vec!["two words".to_owned()];
    assert!(matches!(store.create_client(&bad).await, Err(StoreError::Backend(_))));
    assert_eq!(store.get_client("acme", "bad").await.unwrap(), None);

    let mut t = fixtures::bare_token("acme", "commas");
    t.permissions = vec!["x y".to_owned()];
    assert!(matches!(store.insert_tokens(std::slice::from_ref(&t)).await, Err(StoreError::Backend(_))));
    t.permissions = vec!["x,y".to_owned()];
    t.issued_at = NOW;
    store.insert_tokens(std::slice::from_ref(&t)).await.unwrap();
    assert_eq!(store.get_token(&t.id).await.unwrap().unwrap().record, t);
}

/// The 0001 schema, filled as a build from before 0002 would have filled it.
const BEFORE_0002: &str = "
    INSERT INTO realms (name, access_ttl, refresh_ttl, token_format, signing_alg, created_at, updated_at)
        VALUES ('acme', 900, 86400, 'jwt', 'EdDSA', 1700000000, 1700000001);
    INSERT INTO signing_keys (kid, realm, alg, private_pem, created_at, retired_at, verify_until)
        VALUES ('acme-k1', 'acme', 'EdDSA', 'pem', 1700000000, NULL, NULL);
    INSERT INTO clients (realm, client_id, name, secret_hash, auth_method, grant_types, redirect_uris,
        scopes, default_scopes, access_ttl, refresh_ttl, resource_server, disabled, created_at, updated_at)
        VALUES ('acme', 'web', 'Web', NULL, 'none', 'authorization_code refresh_token',
        'https://app.example/cb', 'openid', 'openid', NULL, NULL, FALSE, FALSE, 1700000000, 1700000000);
";
const OLD_TOKEN: [u8; 16] = [0x01; 16];
/// The grant id an old token carries: no grant of that id was ever stored.
const OLD_GRANT: [u8; 16] = [0x02; 16];

macro_rules! fill_0001 {
    ($conn:expr) => {{
        sqlx::raw_sql(BEFORE_0002).execute(&mut $conn).await.unwrap();
        sqlx::query(
            "INSERT INTO tokens (id, realm, kind, verifier_hash, client_id, subject, username, scope, \
             grant_id, permissions, test, issued_at, expires_at, revoked_at) \
             VALUES ($1, 'acme', 'refresh', $2, 'web', 'user-1', 'alice', 'openid', $3, 'p', TRUE, \
             1700000000, NULL, NULL)",
        )
        .bind(&OLD_TOKEN[..])
        .bind(&[0x5a_u8; 32][..])
        .bind(&OLD_GRANT[..])
        .execute(&mut $conn)
        .await
        .unwrap();
    }};
}

/// A database migrated only to 0001, with rows in it, is brought to 0002 by
/// `connect`; the old rows read back with the defaults of the new columns and keep
/// working.
pub async fn rows_from_before_0002_keep_working(url: String) {
    use std::str::FromStr;

    use portcullis_core::model::{Realm, SigningAlg, TokenFormat, TokenKind, TokenRecord};
    use portcullis_core::store::Rotation;
    use sqlx::Connection;
    use sqlx::migrate::Migrator;

    static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
    static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        SQLITE.run_direct(Some(1), &mut conn, false).await.unwrap();
        fill_0001!(conn);
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        POSTGRES.run_direct(Some(1), &mut conn, false).await.unwrap();
        fill_0001!(conn);
        conn.close().await.unwrap();
    }

    let store = harness::open(&url).await;
    let realm = store.get_realm("acme").await.unwrap().unwrap();
    let expected = Realm {
        access_ttl: 900,
        refresh_ttl: Some(86_400),
        token_format: TokenFormat::Jwt,
        signing_alg: SigningAlg::EdDsa,
        updated_at: NOW + 1,
        ..Realm::new("acme", NOW)
    };
    assert_eq!(realm, expected, "the new columns default to Realm::new's values");
    assert!(store.get_client("acme", "web").await.unwrap().is_some());
    assert_eq!(store.signing_keys("acme", NOW).await.unwrap().len(), 1);

    let old = store.get_token(&OLD_TOKEN).await.unwrap().unwrap();
    assert_eq!(old.record.used_at, None);
    assert_eq!(old.record.grant_id, Some(OLD_GRANT));
    assert!(!old.grant_revoked, "a grant id naming no stored grant revokes nothing");
    assert_eq!(old.user, None);

    // The old refresh token rotates like a new one.
    let next =
        TokenRecord { kind: TokenKind::Refresh, grant_id: Some(OLD_GRANT), ..fixtures::bare_token("acme", "web") };
    let outcome = store.rotate_refresh_token(&OLD_TOKEN, NOW + 5, None, std::slice::from_ref(&next)).await.unwrap();
    assert_eq!(outcome, Rotation::Rotated);
    assert_eq!(store.get_token(&OLD_TOKEN).await.unwrap().unwrap().record.used_at, Some(NOW + 5));
    assert_eq!(store.get_token(&next.id).await.unwrap().unwrap().record, next);

    // And the old realm takes the new records.
    let user = fixtures::create_user(&store, "acme", "alice").await;
    assert_eq!(store.find_user("acme", "ALICE").await.unwrap(), Some(user));
    let realm = Realm { code_ttl: 30, allow_implicit: true, ..realm };
    store.update_realm(&realm).await.unwrap();
    assert_eq!(store.get_realm("acme").await.unwrap(), Some(realm));
}

/// `load` names the store's pools and queues within their limits, from counters alone;
/// `table_sizes` names every counted table: exact on SQLite, PostgreSQL's statistics'
/// estimate (which may lag, so only named and never negative there).
pub async fn load_and_table_sizes_name_pools_queues_and_tables(store: Arc<dyn Store>) {
    fixtures::create_realm(&store, "r").await;
    fixtures::create_client(&store, "r", "c").await;
    for _ in 0..3 {
        fixtures::insert_live_token(&store, "r", "c").await;
    }
    let load = store.load();
    assert!(!load.pools.is_empty(), "{load:?}");
    assert!(load.pools.iter().all(|p| p.max >= 1 && p.idle <= p.size && p.size <= p.max), "{load:?}");
    assert!(!load.queues.is_empty(), "{load:?}");
    assert!(load.queues.iter().all(|q| q.capacity > 0 && q.depth == 0), "nothing waits now: {load:?}");
    let sizes = store.table_sizes().await.unwrap();
    for table in ["tokens", "grants", "authorization_codes", "sessions", "sign_in_failures", "clients", "realms"] {
        assert!(sizes.iter().any(|(t, _)| *t == table), "{table} in {sizes:?}");
    }
    assert!(sizes.iter().all(|(_, n)| *n >= 0), "{sizes:?}");
    let rows = |sizes: &[(&str, i64)], table: &str| sizes.iter().find(|(t, _)| *t == table).unwrap().1;
    if store.backend() == "sqlite" {
        assert_eq!((rows(&sizes, "tokens"), rows(&sizes, "clients"), rows(&sizes, "grants")), (3, 1, 0), "{sizes:?}");
        return;
    }
    // PostgreSQL's statistics catch up once the writing connections report (they do
    // when idle, within seconds): the query reads the right tables.
    for _ in 0..150 {
        let sizes = store.table_sizes().await.unwrap();
        if rows(&sizes, "tokens") == 3 {
            assert_eq!(rows(&sizes, "clients"), 1, "{sizes:?}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("PostgreSQL's estimate never showed the 3 tokens: {:?}", store.table_sizes().await);
}
