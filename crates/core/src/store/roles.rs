//! The roles a store plays, one trait each.

use async_trait::async_trait;

use super::{
    CodeRedemption, FailureCount, FailureKey, PendingLimits, PurgeCutoffs, PurgeReport, Rotation, StoreLoad,
    StoreResult,
};
use crate::admin_token::AdminTokenRecord;
use crate::audit::{AuditQuery, AuditRecord};
use crate::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord, StoredToken,
    TokenRecord, User,
};
use crate::org::{ApiKey, App, Permission, StoredApiKey};

/// The database itself, server-wide settings, realms and their signing keys, and
/// maintenance: the administrative and start-up paths.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Pools and queues as they are now, from in-memory counters (no I/O): cheap
    /// enough to call on every metrics scrape.
    fn load(&self) -> StoreLoad;

    /// Rows per table, for the tables that grow with traffic (tokens, grants, codes,
    /// sessions, pending requests, sign-in failures) and with administration (clients,
    /// users, API keys). Exact on SQLite (a `count(*)` each, so call it every minute,
    /// not per scrape); PostgreSQL's statistics estimate (`n_live_tup`), which a
    /// `count(*)` of a large table would cost a scan to improve on.
    async fn table_sizes(&self) -> StoreResult<Vec<(&'static str, i64)>>;

    /// The server pepper for client-secret hashes: `candidate` is kept if none is
    /// stored yet, and the stored one is returned either way, so every instance and
    /// the CLI agree on it.
    async fn pepper(&self, candidate: &[u8]) -> StoreResult<Vec<u8>>;

    /// A server-wide setting shared by every instance (e.g. the public URL).
    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores `value` under `name`, unless `keep_existing` and a value is already
    /// stored; returns the value stored afterwards, so concurrent first writers agree.
    async fn put_setting(&self, name: &str, value: &[u8], keep_existing: bool) -> StoreResult<Vec<u8>>;

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

    // Maintenance.

    /// Deletes up to `batch_size` rows past `cutoffs` from each purged table, each
    /// table in a short transaction of its own, so that callers repeat it (while some
    /// table reports a full batch) rather than hold locks. A grant goes only once no
    /// token and no code names it: its tokens read their revocation through it.
    /// Idempotent, and safe to run on every instance at once.
    async fn purge_expired(&self, cutoffs: PurgeCutoffs, batch_size: u32) -> StoreResult<PurgeReport>;
}

/// OAuth clients of a realm.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
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
}

/// Access and refresh tokens, by their id (the verifier is checked by the caller).
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Inserts `token` only if its client is still at `client_revision` (the revision
    /// of the cached copy the request was authenticated against), checked in the
    /// transaction that writes it: `Ok(false)`, nothing written, when the client has
    /// changed or gone since.
    async fn insert_token_if_client_at(&self, token: &TokenRecord, client_revision: i64) -> StoreResult<bool>;
    async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>>;
    /// `get_token`, and the current revision of client `client_id` of `realm` (`None`
    /// when it no longer exists), read in one snapshot.
    async fn get_token_and_client_revision(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
    ) -> StoreResult<(Option<StoredToken>, Option<i64>)>;
    /// Marks a token revoked; false if there was no such live token.
    async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    /// Stores tokens issued from an existing grant (e.g. a refresh under `reuse`), in one
    /// transaction.
    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> StoreResult<()>;
}

/// Grants (what a user or client was granted, from which tokens derive), the
/// authorization codes that create them, and refresh-token rotation.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a grant with the tokens issued from it, in one transaction.
    async fn create_grant(&self, grant: &Grant, tokens: &[TokenRecord]) -> StoreResult<()>;
    /// Stores a grant with its authorization code and consumes the authorization
    /// request it answers, in one transaction; `NotFound` if the request was already
    /// consumed. `None`: no request was stored (a signed-in user who had approved the
    /// client before is sent the code at once), only the grant and code are.
    async fn create_grant_with_code(
        &self,
        grant: &Grant,
        code: &AuthorizationCode,
        request_id: Option<&[u8; 16]>,
    ) -> StoreResult<()>;
    /// The code as stored, used or not; nothing changes.
    async fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>>;
    /// Marks the code used and stores `tokens`, in one transaction (a conditional
    /// update: exactly one concurrent caller gets `Redeemed`, and its tokens exist
    /// before any other caller can see the code used). On a replay, revokes the code's
    /// grant at `now` and stores nothing.
    async fn redeem_code(&self, id: &[u8; 16], now: i64, tokens: &[TokenRecord]) -> StoreResult<CodeRedemption>;
    async fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>>;
    async fn list_grants(&self, realm: &str, user: Option<&str>, client: Option<&str>) -> StoreResult<Vec<Grant>>;
    /// Revokes a grant, and with it every token derived from it; false if it was not
    /// live.
    async fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    /// Exchanges the refresh token `old` under rotation, in one transaction:
    /// `UPDATE … SET used_at = now WHERE id = old AND used_at IS NULL`; one row →
    /// insert `new_tokens`, `Rotated`. Otherwise, if `grace_since` is set and the old
    /// token was spent at or after it → insert `new_tokens`, `WithinGrace`. Otherwise
    /// revoke the old token's grant at `now` → `Reused`.
    async fn rotate_refresh_token(
        &self,
        old: &[u8; 16],
        now: i64,
        grace_since: Option<i64>,
        new_tokens: &[TokenRecord],
    ) -> StoreResult<Rotation>;
}

/// Accounts, their browser sessions, pending authorization requests and consents.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// `Conflict` if the realm has a user of that username, compared case-insensitively.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, realm: &str, id: &str) -> StoreResult<Option<User>>;
    /// By id, or else by username (case-insensitively).
    async fn find_user(&self, realm: &str, id_or_username: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, realm: &str) -> StoreResult<Vec<User>>;
    /// Writes every mutable field; `NotFound` if the user is gone, `Conflict` on a
    /// username clash. A disabled user's browser sessions are deleted in the same
    /// transaction.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Writes the new password hash, revokes every grant of the user at `now` and
    /// deletes their browser sessions, in one transaction.
    async fn set_user_password(&self, realm: &str, id: &str, password_hash: &str, now: i64) -> StoreResult<()>;
    /// Deletes the user with their grants (and so their tokens), consents and
    /// sessions.
    async fn delete_user(&self, realm: &str, id: &str) -> StoreResult<()>;

    // Browser sessions and pending authorization requests.

    async fn create_session(&self, session: &BrowserSession) -> StoreResult<()>;
    /// The session if it exists and has not expired at `now`.
    async fn get_session(&self, id_hash: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>>;
    async fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<()>;
    async fn create_authorization_request(&self, request: &AuthorizationRequest) -> StoreResult<()>;
    /// The request if it exists and has not expired at `now`.
    async fn get_authorization_request(&self, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>>;
    /// Stores `request` (and `session` first, when it is a new one), in one
    /// transaction, unless `request.client_addr` already has `limits.per_address` live
    /// requests at `now`: then `Ok(false)` and nothing is written. Then deletes the
    /// oldest requests of its session beyond `limits.per_session`. Concurrent calls
    /// may overshoot the per-address cap by how many are in flight.
    async fn create_capped_authorization_request(
        &self,
        session: Option<&BrowserSession>,
        request: &AuthorizationRequest,
        now: i64,
        limits: PendingLimits,
    ) -> StoreResult<bool>;
    /// Consumes the request: true for exactly one caller.
    async fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool>;

    // Consents.

    /// The space-separated scopes the user approved for the client.
    async fn get_consent(&self, realm: &str, user_id: &str, client_id: &str) -> StoreResult<Option<String>>;
    async fn save_consent(&self, realm: &str, user_id: &str, client_id: &str, scope: &str, now: i64)
    -> StoreResult<()>;
}

/// Sign-in throttling counters (see `crate::throttle`), shared by every instance.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one failure under every key, in one transaction, unless one of them
    /// already holds its limit of failures in its current window: then nothing is
    /// written and the answer is `None`. A window that began `window_secs` or more
    /// before `now` is over, and its counter starts again at 1 in a window beginning at
    /// `now`. Concurrent calls, on any number of instances, never take a counter past
    /// its limit. Limits are at least 1; the answer lists the counters in `limits`'
    /// order.
    async fn reserve_sign_in_failure(
        &self,
        limits: &[(FailureKey, u32)],
        now: i64,
        window_secs: i64,
    ) -> StoreResult<Option<Vec<FailureCount>>>;
    /// Takes a reservation back, in one transaction: each counter drops by one if it is
    /// still in the window that began at the given `window_start`; a counter that
    /// reaches 0 is deleted.
    async fn release_sign_in_failure(&self, reserved: &[(FailureKey, i64)]) -> StoreResult<()>;
    /// The failures counted under `key` in its window current at `now` (0 if none).
    async fn sign_in_failures(&self, key: &FailureKey, now: i64, window_secs: i64) -> StoreResult<u32>;
    /// Deletes every counter of `account` in `realm` (its per-address ones too) and
    /// returns how many there were.
    async fn clear_sign_in_failures(&self, realm: &str, account: &str) -> StoreResult<u64>;
}

/// Admin tokens, the credentials of the admin REST API (`crate::admin_token`).
#[async_trait]
pub trait AdminTokenStore: Send + Sync + 'static {
    /// `Conflict` if the id is taken. Its realm, when it has one, must exist.
    async fn create_admin_token(&self, token: &AdminTokenRecord) -> StoreResult<()>;
    /// Revoked or not.
    async fn get_admin_token(&self, id: &[u8; 16]) -> StoreResult<Option<AdminTokenRecord>>;
    /// Every admin token, revoked ones too, oldest first.
    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>>;
    /// Marks the token revoked at `now`; false if there was no such live token.
    async fn revoke_admin_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
}

/// Apps, their API keys, a realm's permissions and the roles they are given to (see
/// `crate::org`).
#[async_trait]
pub trait OrgStore: Send + Sync + 'static {
    /// Stores the app's client and the app, in one transaction; `Conflict` if the realm
    /// has a client of that name or id.
    async fn create_app(&self, app: &App, client: &Client) -> StoreResult<()>;
    /// By id, or else by name.
    async fn find_app(&self, realm: &str, id_or_name: &str) -> StoreResult<Option<App>>;
    async fn list_apps(&self, realm: &str) -> StoreResult<Vec<App>>;
    /// Revokes every live key of the app and every grant (so every customer token)
    /// issued through one, and records `now` as the reset, in one transaction; returns
    /// how many keys it revoked. `NotFound` if there is no such app.
    async fn reset_app(&self, realm: &str, app_id: &str, now: i64) -> StoreResult<u64>;
    /// Deletes the app's client, and with it the app, its keys, grants and tokens.
    async fn delete_app(&self, realm: &str, app_id: &str) -> StoreResult<()>;
    /// Renames an app (the name lives in its client's row, whose revision moves, so a
    /// cached copy of the client is read again). `NotFound` if there is no such app,
    /// `Conflict` if the realm has a client of that name.
    async fn update_app(&self, realm: &str, app_id: &str, name: &str, now: i64) -> StoreResult<()>;

    /// `NotFound` if the key's app is gone.
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The key with its app's state (the hot path of customer sign-in and of an API
    /// key's introspection).
    async fn get_api_key(&self, id: &[u8; 16]) -> StoreResult<Option<StoredApiKey>>;
    /// Oldest first; only the app's keys when `app_id` is given.
    async fn list_api_keys(&self, realm: &str, app_id: Option<&str>) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key of `realm` and every grant issued through it, in one transaction;
    /// false if there was no such live key.
    async fn revoke_api_key(&self, realm: &str, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    /// Writes the name, scope and permissions of `key` (found by realm and id) if it is
    /// live, in one transaction; its other fields never change. False if there is no
    /// such live key; `NotFound` if one of the permissions does not exist in the realm
    /// (then nothing changes).
    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<bool>;
    /// Records when keys were last used, in one transaction; a key's `last_used_at`
    /// never moves back.
    async fn touch_api_keys(&self, used: &[([u8; 16], i64)]) -> StoreResult<()>;
    /// Stores a customer's grant with its tokens and its link to the key it came
    /// through, in one transaction.
    async fn create_customer_grant(&self, grant: &Grant, api_key: &[u8; 16], tokens: &[TokenRecord])
    -> StoreResult<()>;

    /// Creates a permission bound to the lowest bit of the realm not in use, in one
    /// transaction. `Conflict` if the name exists or every bit is taken; `NotFound`
    /// if the realm does not exist.
    async fn create_permission(&self, realm: &str, name: &str, now: i64) -> StoreResult<Permission>;
    /// By bit.
    async fn list_permissions(&self, realm: &str) -> StoreResult<Vec<Permission>>;
    /// Deletes the permission and takes it from every role; its bit is free again.
    async fn delete_permission(&self, realm: &str, name: &str) -> StoreResult<()>;
    /// Gives `role` exactly `permissions` (which must all exist: else `NotFound`
    /// and nothing changes), in one transaction.
    async fn set_role_permissions(&self, realm: &str, role: &str, permissions: &[String]) -> StoreResult<()>;
    /// Every role that has a permission, by role, with its permissions by name.
    async fn list_role_permissions(&self, realm: &str) -> StoreResult<Vec<(String, Vec<String>)>>;
    /// The permissions any of `roles` has, by name, each once.
    async fn permissions_of_roles(&self, realm: &str, roles: &[String]) -> StoreResult<Vec<String>>;
}

/// The audit log's rows (`crate::audit`). Rows belong to no other row: they outlive
/// the realm, client or user they name, until the purge deletes them by age.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Stores `events` in one transaction (the audit writer's batch).
    async fn insert_audit_events(&self, events: &[AuditRecord]) -> StoreResult<()>;
    /// The events `query` selects, oldest first (by id), at most `query.limit`.
    async fn list_audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes up to `batch_size` events older than `before` (Unix seconds); returns
    /// how many. Callers repeat it while it deletes a full batch.
    async fn purge_audit_events(&self, before: i64, batch_size: u32) -> StoreResult<u64>;
}
