//! Token reads kept in memory (`hot_tokens`) never outlive a change: each change below
//! is written through a second store on the same database (another instance, or the
//! CLI) after the first store has read the token twice, the second read being one it
//! may answer from memory; its next read must show the change.

use std::sync::Arc;

use portcullis_core::model::{Client, StoredToken, TokenKind, TokenRecord};
use portcullis_core::store::{PurgeCutoffs, Store};
use portcullis_store::testing;

use crate::fixtures::{self, NOW};
use crate::harness;

/// Reads `id` as client `rs` of `acme` would introspect it, twice; both answers must
/// agree, and the second is returned.
async fn read_twice(store: &Arc<dyn Store>, id: &[u8; 16]) -> (Option<StoredToken>, Option<i64>) {
    let first = store.get_token_and_client_revision(id, "acme", "rs").await.unwrap();
    let second = store.get_token_and_client_revision(id, "acme", "rs").await.unwrap();
    assert_eq!(first, second, "nothing changed between two reads");
    second
}

fn access_token(grant_id: Option<[u8; 16]>, client_id: &str, subject: &str) -> TokenRecord {
    TokenRecord {
        kind: TokenKind::Access,
        grant_id,
        subject: subject.to_owned(),
        expires_at: Some(NOW + 3_600),
        ..fixtures::bare_token("acme", client_id)
    }
}

pub async fn reads_follow_every_change_made_by_another_instance(url: String) {
    let reader = harness::open(&url).await;
    let writer = harness::open(&url).await;
    fixtures::create_realm(&writer, "acme").await;
    let rs = fixtures::create_client(&writer, "acme", "rs").await;
    let web = fixtures::create_client(&writer, "acme", "web").await;
    let mut user = fixtures::user("acme", "ann");
    user.disabled = false;
    writer.create_user(&user).await.unwrap();
    let grant = fixtures::grant("acme", "web", &user.id);
    let of_grant = access_token(Some(grant.id), "web", &user.id);
    writer.create_grant(&grant, std::slice::from_ref(&of_grant)).await.unwrap();
    let alone = access_token(None, "web", "service");
    writer.insert_tokens(std::slice::from_ref(&alone)).await.unwrap();

    let (stored, revision) = read_twice(&reader, &of_grant.id).await;
    let stored = stored.unwrap();
    assert!(stored.standing("acme"));
    assert_eq!(stored.user.as_ref().unwrap().roles, user.roles);
    assert_eq!(revision, Some(rs.revision));

    // The user's roles (the token's `authorities`), then the user disabled.
    user.roles = vec!["auditor".to_owned()];
    writer.update_user(&user).await.unwrap();
    let stored = read_twice(&reader, &of_grant.id).await.0.unwrap();
    assert_eq!(stored.user.unwrap().roles, ["auditor"]);
    user.disabled = true;
    writer.update_user(&user).await.unwrap();
    let stored = read_twice(&reader, &of_grant.id).await.0.unwrap();
    assert!(stored.user.unwrap().disabled);
    user.disabled = false;
    writer.update_user(&user).await.unwrap();
    assert!(read_twice(&reader, &of_grant.id).await.0.unwrap().standing("acme"));

    // The caller itself changed: its revision must be read anew.
    writer.update_client(&Client { name: "renamed".to_owned(), ..rs.clone() }).await.unwrap();
    assert_eq!(read_twice(&reader, &of_grant.id).await.1, Some(rs.revision + 1));

    // The grant revoked (the family).
    assert!(writer.revoke_grant(&grant.id, NOW + 1).await.unwrap());
    assert!(read_twice(&reader, &of_grant.id).await.0.unwrap().grant_revoked);

    // A token revoked on its own.
    assert!(read_twice(&reader, &alone.id).await.0.unwrap().standing("acme"));
    assert!(writer.revoke_token(&alone.id, NOW + 2).await.unwrap());
    assert_eq!(read_twice(&reader, &alone.id).await.0.unwrap().record.revoked_at, Some(NOW + 2));

    // The token's client disabled.
    let other = access_token(None, "web", "service");
    writer.insert_tokens(std::slice::from_ref(&other)).await.unwrap();
    assert!(read_twice(&reader, &other.id).await.0.unwrap().standing("acme"));
    writer.update_client(&Client { disabled: true, ..web.clone() }).await.unwrap();
    assert!(read_twice(&reader, &other.id).await.0.unwrap().client_disabled);

    // The user deleted (with their grants and tokens), then the client deleted.
    writer.update_client(&Client { disabled: false, revision: web.revision + 1, ..web.clone() }).await.unwrap();
    let grant2 = fixtures::grant("acme", "web", &user.id);
    let of_grant2 = access_token(Some(grant2.id), "web", &user.id);
    writer.create_grant(&grant2, std::slice::from_ref(&of_grant2)).await.unwrap();
    assert!(read_twice(&reader, &of_grant2.id).await.0.unwrap().standing("acme"));
    writer.delete_user("acme", &user.id).await.unwrap();
    assert_eq!(read_twice(&reader, &of_grant2.id).await.0, None);
    assert!(read_twice(&reader, &other.id).await.0.is_some());
    writer.delete_client("acme", "web").await.unwrap();
    assert_eq!(read_twice(&reader, &other.id).await.0, None);

    // The realm deleted: its clients and tokens go by cascade.
    let own = access_token(None, "rs", "service");
    writer.insert_tokens(std::slice::from_ref(&own)).await.unwrap();
    assert!(read_twice(&reader, &own.id).await.0.is_some());
    writer.delete_realm("acme").await.unwrap();
    assert_eq!(read_twice(&reader, &own.id).await.0, None);
}

/// The purge deletes expired tokens without raising the epoch, so a purge pass does
/// not throw away every instance's kept reads; deleting a live token raises it.
pub async fn the_purge_leaves_the_epoch_alone(url: String) {
    let store = harness::open(&url).await;
    fixtures::create_realm(&store, "acme").await;
    fixtures::create_client(&store, "acme", "web").await;
    // Expired by every clock: the fixtures' NOW is in 2023.
    let expired: Vec<TokenRecord> = (0..3).map(|_| access_token(None, "web", "service")).collect();
    store.insert_tokens(&expired).await.unwrap();
    let before = testing::token_epoch(&url).await;
    let cutoffs = PurgeCutoffs { expired_before: NOW + 10_000, window_started_before: NOW };
    assert_eq!(store.purge_expired(cutoffs, 100).await.unwrap().total(), 3);
    assert_eq!(testing::token_epoch(&url).await, before, "the purge raised the epoch");

    let live = TokenRecord { expires_at: None, ..access_token(None, "web", "service") };
    store.insert_tokens(std::slice::from_ref(&live)).await.unwrap();
    assert_eq!(testing::token_epoch(&url).await, before, "an insert changes no kept read");
    store.delete_client("acme", "web").await.unwrap();
    assert!(testing::token_epoch(&url).await > before, "deleting a client raises the epoch");
}
