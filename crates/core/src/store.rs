//! What Portcullis needs from a database. The rules that matter for security are in
//! the signatures: each method that changes several rows is one transaction.

use async_trait::async_trait;

use crate::model::{Client, Realm, SigningKeyRecord, StoredToken, TokenRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is overloaded: the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// The server pepper for client-secret hashes: `candidate` is kept if none is
    /// stored yet, and the stored one is returned either way, so every instance and
    /// the CLI agree on it.
    async fn pepper(&self, candidate: &[u8]) -> StoreResult<Vec<u8>>;

    // Realms.

    /// Creates a realm with its first signing key, in one transaction.
    /// `Conflict` if the name is taken.
    async fn create_realm(&self, realm: &Realm, key: &SigningKeyRecord) -> StoreResult<()>;
    async fn get_realm(&self, name: &str) -> StoreResult<Option<Realm>>;
    async fn list_realms(&self) -> StoreResult<Vec<Realm>>;
    async fn update_realm(&self, realm: &Realm) -> StoreResult<()>;
    /// Deletes a realm and everything in it.
    async fn delete_realm(&self, name: &str) -> StoreResult<()>;

    // Signing keys.

    /// Keys that still verify at `now` (`verify_until` unset or later), newest first.
    async fn signing_keys(&self, realm: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds `new_key` and retires every other signing key of the realm (retired at
    /// `now`, verifying until `verify_until`), in one transaction.
    async fn rotate_signing_key(&self, new_key: &SigningKeyRecord, now: i64, verify_until: i64) -> StoreResult<()>;

    // Clients.

    /// `Conflict` if the realm already has a client of that name or id.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, realm: &str, client_id: &str) -> StoreResult<Option<Client>>;
    /// By id, or else by name.
    async fn find_client(&self, realm: &str, id_or_name: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self, realm: &str) -> StoreResult<Vec<Client>>;
    /// Writes every mutable field of `client`; `NotFound` if it is gone.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// Deletes a client and its tokens.
    async fn delete_client(&self, realm: &str, client_id: &str) -> StoreResult<()>;
    /// Replaces the secret hash and, when `revoke_tokens_at` is set, revokes every
    /// live token of the client at that instant, in one transaction.
    async fn rotate_client_secret(
        &self,
        realm: &str,
        client_id: &str,
        secret_hash: &[u8],
        revoke_tokens_at: Option<i64>,
    ) -> StoreResult<()>;

    // Tokens.

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>>;
    /// Marks a token revoked; false if there was no such live token.
    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
}
