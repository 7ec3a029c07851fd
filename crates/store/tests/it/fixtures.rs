//! Records with every field set to something other than its default, so that a
//! column the store forgets shows up in a round trip.

use std::sync::Arc;

use portcullis_core::model::{
    AuthMethod, AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, GrantType, Realm,
    RefreshPolicy, SigningAlg, SigningKeyRecord, TokenFormat, TokenKind, TokenRecord, User, UserKind,
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
        refresh_policy: RefreshPolicy::Reuse,
        refresh_grace: 30,
        allow_implicit: true,
        require_pkce: true,
        allow_plain_pkce: true,
        code_ttl: 120,
        customer_ttl: 1800,
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
        revision: 0,
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

/// A random 32-byte value, as a SHA-256 would be.
pub fn new_hash() -> [u8; 32] {
    let mut h = [0; 32];
    h[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    h[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    h
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
        used_at: Some(NOW + 5),
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
        used_at: None,
    }
}

pub async fn insert_live_token(store: &Arc<dyn Store>, realm: &str, client_id: &str) -> [u8; 16] {
    let t = bare_token(realm, client_id);
    store.insert_tokens(std::slice::from_ref(&t)).await.unwrap();
    t.id
}

/// Every optional field set; the id is a fresh UUID.
pub fn user(realm: &str, username: &str) -> User {
    User {
        realm: realm.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1${username}$hash")),
        roles: vec!["admin".to_owned(), "billing:read".to_owned()],
        teams: vec!["blue".to_owned(), "red,green".to_owned()],
        kind: UserKind::Customer,
        disabled: true,
        created_at: NOW,
        updated_at: NOW + 3,
    }
}

pub async fn create_user(store: &Arc<dyn Store>, realm: &str, username: &str) -> User {
    let u = user(realm, username);
    store.create_user(&u).await.unwrap();
    u
}

/// A live grant of `subject` to the client, every optional field set.
pub fn grant(realm: &str, client_id: &str, subject: &str) -> Grant {
    Grant {
        id: new_id(),
        realm: realm.to_owned(),
        client_id: client_id.to_owned(),
        subject: subject.to_owned(),
        username: Some(format!("name of {subject}")),
        scope: "openid read:all".to_owned(),
        teams: vec!["blue".to_owned()],
        permissions: vec!["billing:read".to_owned(), "admin".to_owned()],
        test: true,
        created_at: NOW,
        revoked_at: None,
    }
}

/// A live refresh token of `grant`.
pub fn grant_token(grant: &Grant) -> TokenRecord {
    TokenRecord {
        id: new_id(),
        realm: grant.realm.clone(),
        kind: TokenKind::Refresh,
        verifier_hash: Some([0x11; 32]),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        username: grant.username.clone(),
        scope: grant.scope.clone(),
        grant_id: Some(grant.id),
        permissions: grant.permissions.clone(),
        test: grant.test,
        issued_at: NOW,
        expires_at: Some(NOW + 86_400),
        revoked_at: None,
        used_at: None,
    }
}

/// A stored grant with one live refresh token.
pub async fn create_grant(store: &Arc<dyn Store>, realm: &str, client_id: &str, subject: &str) -> (Grant, TokenRecord) {
    let g = grant(realm, client_id, subject);
    let t = grant_token(&g);
    store.create_grant(&g, std::slice::from_ref(&t)).await.unwrap();
    (g, t)
}

/// An unused code of `grant`, every optional field set.
pub fn code(grant: &Grant) -> AuthorizationCode {
    AuthorizationCode {
        id: new_id(),
        verifier_hash: [0x22; 32],
        realm: grant.realm.clone(),
        client_id: grant.client_id.clone(),
        grant_id: grant.id,
        redirect_uri: "https://app.example/cb?x=1,2".to_owned(),
        redirect_uri_given: true,
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        code_challenge_method: Some("S256".to_owned()),
        issued_at: NOW,
        expires_at: NOW + 60,
        used_at: None,
    }
}

/// A signed-in session, every optional field set.
pub fn session(realm: &str, user_id: Option<&str>) -> BrowserSession {
    BrowserSession {
        id_hash: new_hash(),
        realm: realm.to_owned(),
        user_id: user_id.map(str::to_owned),
        authenticated_at: user_id.map(|_| NOW + 1),
        created_at: NOW,
        expires_at: NOW + 600,
    }
}

/// A pending request, every optional field set.
pub fn request(realm: &str, client_id: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        id: new_id(),
        realm: realm.to_owned(),
        session_hash: [0x33; 32],
        client_id: client_id.to_owned(),
        redirect_uri: "http://127.0.0.1:8080/callback?x=1".to_owned(),
        redirect_uri_given: true,
        response_type: "code".to_owned(),
        response_mode: "form_post".to_owned(),
        scope: "openid read:all".to_owned(),
        state: Some("st'ate\" OR 1=1 --".to_owned()),
        code_challenge: Some("challenge".to_owned()),
        code_challenge_method: Some("plain".to_owned()),
        prompt: Some("login consent".to_owned()),
        csrf_hash: [0x44; 32],
        created_at: NOW,
        expires_at: NOW + 600,
        client_addr: Some("2001:db8:1:2::/64".to_owned()),
    }
}

/// A session of no user expiring at `expires_at`.
pub fn session_expiring(expires_at: i64) -> BrowserSession {
    BrowserSession { expires_at, created_at: expires_at - 600, ..session("acme", None) }
}
