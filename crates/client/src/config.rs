//! How a [`crate::TokenManager`] or a resource server's [`crate::resource::Verifier`]
//! presents itself to the authorization server.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::store::TokenStore;

/// How the client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1); also how an app
    /// presents `app_id:API_KEY` for customer logins.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
}

/// The client's identity and the manager's policies.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
    pub(crate) auth_method: AuthMethod,
    pub(crate) leeway: Duration,
    pub(crate) min_introspect_interval: Duration,
    pub(crate) revoke_on_delete: bool,
    pub(crate) refresh_ahead: Option<Duration>,
    pub(crate) store: Option<Arc<dyn TokenStore>>,
    pub(crate) http_timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("auth_method", &self.auth_method)
            .field("leeway", &self.leeway)
            .field("min_introspect_interval", &self.min_introspect_interval)
            .field("revoke_on_delete", &self.revoke_on_delete)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A public client (no secret) until [`Self::with_secret`]; leeway 30 s, every
    /// introspection asks the server, `delete` is local only.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            secret: None,
            auth_method: AuthMethod::None,
            leeway: Duration::from_secs(30),
            min_introspect_interval: Duration::ZERO,
            revoke_on_delete: false,
            refresh_ahead: None,
            store: None,
            http_timeout: Duration::from_secs(30),
        }
    }

    /// A confidential client authenticating with `client_secret_basic`.
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        if self.auth_method == AuthMethod::None {
            self.auth_method = AuthMethod::ClientSecretBasic;
        }
        self
    }

    /// How the secret is presented (`client_secret_basic` by default).
    pub fn with_auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// A token expiring within `leeway` counts as expired.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// `introspect` answers from the stored token's metadata, without asking the
    /// server, when the token was obtained less than `interval` ago.
    pub fn with_min_introspect_interval(mut self, interval: Duration) -> Self {
        self.min_introspect_interval = interval;
        self
    }

    /// `delete` also revokes the token at the server (best effort, the outcome logged).
    pub fn with_revoke_on_delete(mut self, revoke: bool) -> Self {
        self.revoke_on_delete = revoke;
        self
    }

    /// How long before a token counts as expired a `get` that finds it starts a refresh
    /// in the background (give or take a fifth, so that managers started together do
    /// not refresh together). By default a tenth of the token's lifetime.
    pub fn with_refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = Some(ahead);
        self
    }

    /// Where tokens are kept (in memory by default).
    pub fn with_store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long one HTTP request to the server may take (30 s by default).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}
