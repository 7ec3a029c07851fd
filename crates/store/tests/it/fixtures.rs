//! Records with every field set to something other than its default, so that a
//! column the store forgets shows up in a round trip.

use std::sync::Arc;

use portcullis_core::model::{
    AuthMethod, Client, GrantType, Realm, SigningAlg, SigningKeyRecord, TokenFormat, TokenKind, TokenRecord,
};
use portcullis_core::store::Store;

pub const NOW: i64 = 1_700_000_000;

pub fn realm(name: &str) -> Realm {
    Realm {
        name: name.to_owned(),
        access_ttl: 900,
        refresh_ttl: Some(86_400),
        token_format: TokenFormat::Jwt,
        signing_alg: SigningAlg::EdDsa,
        created_at: NOW,
        updated_at: NOW + 1,
    }
}

pub fn key(realm: &str, kid: &str, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        realm: realm.to_owned(),
        alg: SigningAlg::EdDsa,
        private_pem: format!("-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n"),
        created_at,
        retired_at: None,
        verify_until: None,
    }
}

/// A realm with its first key, `<name>-k1`.
pub async fn create_realm(store: &Arc<dyn Store>, name: &str) -> Realm {
    let r = realm(name);
    store.create_realm(&r, &key(name, &format!("{name}-k1"), NOW)).await.unwrap();
    r
}

pub fn client(realm: &str, client_id: &str, name: &str) -> Client {
    Client {
        realm: realm.to_owned(),
        client_id: client_id.to_owned(),
        name: name.to_owned(),
        secret_hash: Some(vec![0xab; 32]),
        auth_method: AuthMethod::ClientSecretPost,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::DeviceCode],
        redirect_uris: vec!["https://app.example/cb".to_owned(), "http://127.0.0.1:8080/callback?x=1".to_owned()],
        scopes: vec!["openid".to_owned(), "read:all".to_owned(), "write".to_owned()],
        default_scopes: vec!["openid".to_owned()],
        access_ttl: Some(300),
        refresh_ttl: None,
        resource_server: true,
        disabled: false,
        created_at: NOW,
        updated_at: NOW + 2,
    }
}

pub async fn create_client(store: &Arc<dyn Store>, realm: &str, client_id: &str) -> Client {
    let c = client(realm, client_id, &format!("{client_id} app"));
    store.create_client(&c).await.unwrap();
    c
}

pub fn new_id() -> [u8; 16] {
    *uuid::Uuid::now_v7().as_bytes()
}

/// Every optional field set.
pub fn token(realm: &str, client_id: &str) -> TokenRecord {
    TokenRecord {
        id: new_id(),
        realm: realm.to_owned(),
        kind: TokenKind::Refresh,
        verifier_hash: Some([0x5a; 32]),
        client_id: client_id.to_owned(),
        subject: "user-42".to_owned(),
        username: Some("alice".to_owned()),
        scope: "openid read:all".to_owned(),
        grant_id: Some(new_id()),
        permissions: vec!["billing:read".to_owned(), "admin".to_owned()],
        test: true,
        issued_at: NOW,
        expires_at: Some(NOW + 3600),
        revoked_at: Some(NOW + 10),
    }
}

/// Every optional field empty.
pub fn bare_token(realm: &str, client_id: &str) -> TokenRecord {
    TokenRecord {
        id: new_id(),
        realm: realm.to_owned(),
        kind: TokenKind::Access,
        verifier_hash: None,
        client_id: client_id.to_owned(),
        subject: client_id.to_owned(),
        username: None,
        scope: String::new(),
        grant_id: None,
        permissions: vec![],
        test: false,
        issued_at: NOW,
        expires_at: None,
        revoked_at: None,
    }
}

pub async fn insert_live_token(store: &Arc<dyn Store>, realm: &str, client_id: &str) -> [u8; 16] {
    let t = bare_token(realm, client_id);
    store.insert_token(&t).await.unwrap();
    t.id
}
