//! Private keys and the pepper at rest: sealed under the master key in every row,
//! refused at start under a wrong or missing key, sealed when found in the clear, and
//! moved to a new key by `rewrap`.

use std::sync::Arc;

use portcullis_core::at_rest::{AtRest, MasterKey};
use portcullis_core::store::Store;
use portcullis_store::{StoreOptions, connect, rewrap};

use crate::fixtures::{self, NOW};
use crate::harness;

const PEPPER: &[u8] = b"pepper-in-the-clear-0123456789";

fn with_key(key: Option<&MasterKey>) -> StoreOptions {
    StoreOptions { at_rest: AtRest::new(key.cloned()), ..harness::options() }
}

async fn open_with(url: &str, key: Option<&MasterKey>) -> Arc<dyn Store> {
    connect(url, &with_key(key)).await.unwrap_or_else(|e| panic!("connect: {e}"))
}

async fn refused_with(url: &str, key: Option<&MasterKey>) -> String {
    match connect(url, &with_key(key)).await {
        Ok(_) => panic!("opened with master key {key:?}"),
        Err(e) => e.to_string(),
    }
}

/// Every stored private key and pepper, read behind the store's back.
async fn raw_secrets(url: &str) -> Vec<Vec<u8>> {
    const KEYS: &str = "SELECT private_pem FROM signing_keys";
    const PEPPER: &str = "SELECT value FROM settings WHERE name = 'pepper'";
    let (keys, pepper): (Vec<String>, Vec<Vec<u8>>) = if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let keys = sqlx::query_scalar(KEYS).fetch_all(&pool).await.unwrap();
        (keys, sqlx::query_scalar(PEPPER).fetch_all(&pool).await.unwrap())
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let keys = sqlx::query_scalar(KEYS).fetch_all(&pool).await.unwrap();
        (keys, sqlx::query_scalar(PEPPER).fetch_all(&pool).await.unwrap())
    };
    assert_eq!(pepper.len(), 1, "the pepper is stored");
    keys.into_iter().map(String::into_bytes).chain(pepper).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_sealed_under(rows: &[Vec<u8>], key: &MasterKey) {
    for row in rows {
        let text = String::from_utf8_lossy(row);
        assert!(!contains(row, b"PRIVATE KEY") && !contains(row, PEPPER), "in the clear: {text}");
        assert!(text.starts_with(&format!("sealed:v1:{}:", key.id())), "{text}");
    }
}

/// Two keys of one realm and the pepper.
async fn populate(store: &Arc<dyn Store>) {
    fixtures::create_realm(store, "acme").await;
    store.rotate_signing_key(&fixtures::key("acme", "acme-k2", NOW + 1), NOW + 1, NOW + 100).await.unwrap();
    assert_eq!(store.pepper(PEPPER).await.unwrap(), PEPPER);
}

async fn assert_readable(store: &Arc<dyn Store>) {
    let keys = store.signing_keys("acme", NOW + 1).await.unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert_eq!(k.private_pem, fixtures::key("acme", &k.kid, 0).private_pem);
    }
    assert_eq!(store.pepper(b"another candidate").await.unwrap(), PEPPER);
}

pub async fn sealed_secrets_are_never_in_the_clear_and_open_only_under_their_key(url: String) {
    let key = MasterKey::generate();
    let store = open_with(&url, Some(&key)).await;
    populate(&store).await;
    assert_readable(&store).await;
    drop(store);
    assert_sealed_under(&raw_secrets(&url).await, &key);

    let wrong = refused_with(&url, Some(&MasterKey::generate())).await;
    assert!(wrong.contains("wrong master key") && wrong.contains(key.id()), "{wrong}");
    let missing = refused_with(&url, None).await;
    assert!(missing.contains("no master key is configured"), "{missing}");
    assert_readable(&open_with(&url, Some(&key)).await).await;
}

/// Databases written before sealing (and PostgreSQL run without a master key) hold
/// their secrets in the clear: the first start with a master key seals them.
pub async fn clear_secrets_are_sealed_on_the_first_start_with_a_master_key(url: String) {
    populate(&open_with(&url, None).await).await;
    assert!(raw_secrets(&url).await.iter().all(|row| !row.starts_with(b"sealed:")));
    assert_readable(&open_with(&url, None).await).await;

    // Two instances starting at once with the key both start; the rows are sealed once.
    let key = MasterKey::generate();
    let (a, b) = tokio::join!(open_with(&url, Some(&key)), open_with(&url, Some(&key)));
    assert_readable(&a).await;
    assert_readable(&b).await;
    drop((a, b));
    assert_sealed_under(&raw_secrets(&url).await, &key);
}

pub async fn rewrap_moves_every_secret_to_the_new_key(url: String) {
    let old = MasterKey::generate();
    populate(&open_with(&url, Some(&old)).await).await;
    let new = MasterKey::generate();
    assert_eq!(rewrap(&url, &with_key(Some(&old)), new.clone()).await.unwrap(), 3);
    assert_sealed_under(&raw_secrets(&url).await, &new);

    let refused = refused_with(&url, Some(&old)).await;
    assert!(refused.contains("wrong master key") && refused.contains(new.id()), "{refused}");
    assert_readable(&open_with(&url, Some(&new)).await).await;
    // Run again (as after an interruption): nothing left to move.
    assert_eq!(rewrap(&url, &with_key(Some(&new)), new.clone()).await.unwrap(), 0);
    // The old key is refused before anything is rewritten.
    assert!(rewrap(&url, &with_key(Some(&old)), MasterKey::generate()).await.is_err());
    assert_sealed_under(&raw_secrets(&url).await, &new);
}
