//! A store that opens a tracing span around every call, for OpenTelemetry traces
//! (`serve --otlp-endpoint`): one span per storage call, named after the method, as a
//! child of the request's span. `serve` wraps the store in it only when traces are
//! exported, so without them a call costs nothing more.
//!
//! Spans carry the method and the backend, never an argument: arguments hold token
//! hashes, usernames and client ids.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::admin_token::AdminTokenRecord;
use portcullis_core::audit::{AuditQuery, AuditRecord};
use portcullis_core::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord, StoredToken,
    TokenRecord, User,
};
use portcullis_core::org::{ApiKey, App, Permission, StoredApiKey};
use portcullis_core::store::{
    AdminStore, AdminTokenStore, AuditStore, ClientStore, CodeRedemption, FailureCount, FailureKey, GrantStore,
    OrgStore, PendingLimits, PurgeCutoffs, PurgeReport, Rotation, Store, StoreLoad, StoreResult, ThrottleStore,
    TokenStore, UserStore,
};
use tracing::Instrument;

/// Delegates every call to `inner` inside a span `store` (OpenTelemetry name: the
/// method's).
pub struct TracedStore {
    inner: Arc<dyn Store>,
}

/// `inner`, with a span around each call.
pub fn traced(inner: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(TracedStore { inner })
}

/// Writes one role's impl: every method runs the inner call in its span (the items
/// after the list, e.g. `backend`, only delegate).
macro_rules! traced {
    ($role:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* } $($plain:item)*) => {
        #[async_trait]
        impl $role for TracedStore {
            $($plain)*
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    let span = tracing::info_span!(
                        "store",
                        otel.name = stringify!($name),
                        otel.kind = "client",
                        db.system.name = self.inner.backend(),
                        db.operation.name = stringify!($name),
                    );
                    self.inner.$name($($arg),*).instrument(span).await
                }
            )*
        }
    };
}

traced! {
    AdminStore {
        fn ping(&self) -> StoreResult<()>;
        fn pepper(&self, c: &[u8]) -> StoreResult<Vec<u8>>;
        fn setting(&self, n: &str) -> StoreResult<Option<Vec<u8>>>;
        fn put_setting(&self, n: &str, v: &[u8], keep: bool) -> StoreResult<Vec<u8>>;
        fn create_realm(&self, r: &Realm, k: &SigningKeyRecord) -> StoreResult<()>;
        fn get_realm(&self, n: &str) -> StoreResult<Option<Realm>>;
        fn list_realms(&self) -> StoreResult<Vec<Realm>>;
        fn update_realm(&self, r: &Realm) -> StoreResult<()>;
        fn delete_realm(&self, n: &str) -> StoreResult<()>;
        fn signing_keys(&self, r: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>>;
        fn rotate_signing_key(&self, k: &SigningKeyRecord, now: i64, until: i64) -> StoreResult<()>;
        fn purge_expired(&self, c: PurgeCutoffs, batch: u32) -> StoreResult<PurgeReport>;
        fn table_sizes(&self) -> StoreResult<Vec<(&'static str, i64)>>;
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn load(&self) -> StoreLoad {
        self.inner.load()
    }
}

traced! {
    ClientStore {
        fn create_client(&self, c: &Client) -> StoreResult<()>;
        fn get_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
        fn find_client(&self, r: &str, id: &str) -> StoreResult<Option<Client>>;
        fn list_clients(&self, r: &str) -> StoreResult<Vec<Client>>;
        fn update_client(&self, c: &Client) -> StoreResult<()>;
        fn delete_client(&self, r: &str, id: &str) -> StoreResult<()>;
        fn rotate_client_secret(&self, r: &str, id: &str, h: &[u8], at: Option<i64>) -> StoreResult<()>;
    }
}

traced! {
    TokenStore {
        fn insert_token_if_client_at(&self, t: &TokenRecord, revision: i64) -> StoreResult<bool>;
        fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>>;
        fn get_token_and_client_revision(&self, id: &[u8; 16], realm: &str, client_id: &str) -> StoreResult<(Option<StoredToken>, Option<i64>)>;
        fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn insert_tokens(&self, t: &[TokenRecord]) -> StoreResult<()>;
    }
}

traced! {
    GrantStore {
        fn create_grant(&self, g: &Grant, t: &[TokenRecord]) -> StoreResult<()>;
        fn create_grant_with_code(&self, g: &Grant, c: &AuthorizationCode, r: Option<&[u8; 16]>) -> StoreResult<()>;
        fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>>;
        fn redeem_code(&self, id: &[u8; 16], now: i64, t: &[TokenRecord]) -> StoreResult<CodeRedemption>;
        fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>>;
        fn list_grants(&self, r: &str, u: Option<&str>, c: Option<&str>) -> StoreResult<Vec<Grant>>;
        fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn rotate_refresh_token(&self, old: &[u8; 16], now: i64, g: Option<i64>, t: &[TokenRecord]) -> StoreResult<Rotation>;
    }
}

traced! {
    UserStore {
        fn create_user(&self, u: &User) -> StoreResult<()>;
        fn get_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
        fn find_user(&self, r: &str, id: &str) -> StoreResult<Option<User>>;
        fn list_users(&self, r: &str) -> StoreResult<Vec<User>>;
        fn update_user(&self, u: &User) -> StoreResult<()>;
        fn set_user_password(&self, r: &str, id: &str, h: &str, now: i64) -> StoreResult<()>;
        fn delete_user(&self, r: &str, id: &str) -> StoreResult<()>;
        fn create_session(&self, s: &BrowserSession) -> StoreResult<()>;
        fn get_session(&self, h: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>>;
        fn delete_session(&self, h: &[u8; 32]) -> StoreResult<()>;
        fn create_authorization_request(&self, r: &AuthorizationRequest) -> StoreResult<()>;
        fn get_authorization_request(&self, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>>;
        fn create_capped_authorization_request(&self, s: Option<&BrowserSession>, r: &AuthorizationRequest, now: i64, l: PendingLimits) -> StoreResult<bool>;
        fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool>;
        fn get_consent(&self, r: &str, u: &str, c: &str) -> StoreResult<Option<String>>;
        fn save_consent(&self, r: &str, u: &str, c: &str, sc: &str, now: i64) -> StoreResult<()>;
    }
}

traced! {
    ThrottleStore {
        fn reserve_sign_in_failure(&self, l: &[(FailureKey, u32)], now: i64, w: i64) -> StoreResult<Option<Vec<FailureCount>>>;
        fn release_sign_in_failure(&self, r: &[(FailureKey, i64)]) -> StoreResult<()>;
        fn sign_in_failures(&self, k: &FailureKey, now: i64, w: i64) -> StoreResult<u32>;
        fn clear_sign_in_failures(&self, r: &str, a: &str) -> StoreResult<u64>;
    }
}

traced! {
    AdminTokenStore {
        fn create_admin_token(&self, t: &AdminTokenRecord) -> StoreResult<()>;
        fn get_admin_token(&self, id: &[u8; 16]) -> StoreResult<Option<AdminTokenRecord>>;
        fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>>;
        fn revoke_admin_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool>;
    }
}

traced! {
    OrgStore {
        fn create_app(&self, a: &App, c: &Client) -> StoreResult<()>;
        fn find_app(&self, r: &str, id: &str) -> StoreResult<Option<App>>;
        fn list_apps(&self, r: &str) -> StoreResult<Vec<App>>;
        fn reset_app(&self, r: &str, id: &str, now: i64) -> StoreResult<u64>;
        fn update_app(&self, r: &str, id: &str, name: &str, now: i64) -> StoreResult<()>;
        fn delete_app(&self, r: &str, id: &str) -> StoreResult<()>;
        fn create_api_key(&self, k: &ApiKey) -> StoreResult<()>;
        fn get_api_key(&self, id: &[u8; 16]) -> StoreResult<Option<StoredApiKey>>;
        fn list_api_keys(&self, r: &str, app: Option<&str>) -> StoreResult<Vec<ApiKey>>;
        fn revoke_api_key(&self, r: &str, id: &[u8; 16], now: i64) -> StoreResult<bool>;
        fn update_api_key(&self, k: &ApiKey) -> StoreResult<bool>;
        fn touch_api_keys(&self, used: &[([u8; 16], i64)]) -> StoreResult<()>;
        fn create_customer_grant(&self, g: &Grant, k: &[u8; 16], t: &[TokenRecord]) -> StoreResult<()>;
        fn create_permission(&self, r: &str, n: &str, now: i64) -> StoreResult<Permission>;
        fn list_permissions(&self, r: &str) -> StoreResult<Vec<Permission>>;
        fn delete_permission(&self, r: &str, n: &str) -> StoreResult<()>;
        fn set_role_permissions(&self, r: &str, role: &str, p: &[String]) -> StoreResult<()>;
        fn list_role_permissions(&self, r: &str) -> StoreResult<Vec<(String, Vec<String>)>>;
        fn permissions_of_roles(&self, r: &str, roles: &[String]) -> StoreResult<Vec<String>>;
    }
}

traced! {
    AuditStore {
        fn insert_audit_events(&self, e: &[AuditRecord]) -> StoreResult<()>;
        fn list_audit_events(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;
        fn purge_audit_events(&self, before: i64, batch_size: u32) -> StoreResult<u64>;
    }
}
