//! PostgreSQL: accounts, browser sessions, pending authorization requests and consents.

use portcullis_core::model::{AuthorizationRequest, BrowserSession, User};
use portcullis_core::store::{PendingLimits, StoreResult, UserStore};

use super::PgStore;
use super::browser_flow;
use super::cold::{self};

#[async_trait::async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        cold::create_user(&self.pools, user).await
    }

    async fn get_user(&self, realm: &str, id: &str) -> StoreResult<Option<User>> {
        self.user_reader.read((realm.to_owned(), id.to_owned())).await
    }

    async fn find_user(&self, realm: &str, id_or_username: &str) -> StoreResult<Option<User>> {
        cold::find_user(&self.pools, realm, id_or_username).await
    }

    async fn list_users(&self, realm: &str) -> StoreResult<Vec<User>> {
        cold::list_users(&self.pools, realm).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        cold::update_user(&self.pools, user).await
    }

    async fn set_user_password(&self, realm: &str, id: &str, password_hash: &str, now: i64) -> StoreResult<()> {
        cold::set_user_password(&self.pools, realm, id, password_hash, now).await
    }

    async fn delete_user(&self, realm: &str, id: &str) -> StoreResult<()> {
        cold::delete_user(&self.pools, realm, id).await
    }

    async fn create_session(&self, session: &BrowserSession) -> StoreResult<()> {
        cold::create_session(&self.pools, session).await
    }

    async fn get_session(&self, id_hash: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>> {
        browser_flow::get_session(&self.pools, id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<()> {
        cold::delete_session(&self.pools, id_hash).await
    }

    async fn create_authorization_request(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        cold::create_authorization_request(&self.pools, request).await
    }

    async fn get_authorization_request(&self, id: &[u8; 16], now: i64) -> StoreResult<Option<AuthorizationRequest>> {
        browser_flow::get_authorization_request(&self.pools, id, now).await
    }

    async fn create_capped_authorization_request(
        &self,
        session: Option<&BrowserSession>,
        request: &AuthorizationRequest,
        now: i64,
        limits: PendingLimits,
    ) -> StoreResult<bool> {
        browser_flow::create_capped_authorization_request(&self.pools, session, request, now, limits).await
    }

    async fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool> {
        cold::delete_authorization_request(&self.pools, id).await
    }

    async fn get_consent(&self, realm: &str, user_id: &str, client_id: &str) -> StoreResult<Option<String>> {
        browser_flow::get_consent(&self.pools, realm, user_id, client_id).await
    }

    async fn save_consent(
        &self,
        realm: &str,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        cold::save_consent(&self.pools, realm, user_id, client_id, scope, now).await
    }
}
