//! Administrative operations on realms, keys and clients, shared by the CLI and the
//! admin API. Every input is validated before anything is written.

mod orgs;
mod teams;

use std::fmt;

use crate::clock::Clock;
use crate::model::{
    AuthMethod, Client, DEFAULT_REALM, Grant, GrantType, Realm, RefreshPolicy, SigningAlg, TokenFormat, User, UserKind,
};
use crate::scope::ScopeSet;
use crate::secret::{ClientSecret, SecretHasher};
use crate::store::{Store, StoreError};
use crate::token::jwt::LEEWAY_SECS;
use crate::token::keys;

#[derive(Debug)]
pub enum AdminError {
    Invalid(String),
    NotFound(String),
    Conflict(String),
    Store(StoreError),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Invalid(m) | AdminError::NotFound(m) | AdminError::Conflict(m) => f.write_str(m),
            AdminError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AdminError::Conflict(m),
            other => AdminError::Store(other),
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

pub use orgs::{ApiKeyChange, ApiKeySpec, NewApiKey};
pub use teams::Team;

/// Longest username, in bytes (the sign-in form and the password grant refuse longer
/// ones before anything is stored).
pub const MAX_USERNAME_BYTES: usize = 255;
/// Longest client name, in bytes.
pub const MAX_CLIENT_NAME_BYTES: usize = 255;
/// Longest redirect URI, in bytes: also the longest `redirect_uri` the authorization
/// endpoint reads (`authorize::limits`).
pub const MAX_REDIRECT_URI_BYTES: usize = 2000;
/// Most redirect URIs, and most roles or teams, one client or user may have.
pub const MAX_LIST_ITEMS: usize = 50;
/// Longest list of a client's scopes, space-separated, in bytes: also the longest
/// `scope` the authorization endpoint reads.
pub const MAX_SCOPES_BYTES: usize = 2048;

fn invalid(m: impl Into<String>) -> AdminError {
    AdminError::Invalid(m.into())
}

fn positive_ttl(what: &str, v: i64) -> AdminResult<i64> {
    if v > 0 && v <= 10 * 365 * 24 * 3600 {
        Ok(v)
    } else {
        Err(invalid(format!("{what} must be between 1 and 315360000 seconds, got {v}")))
    }
}

/// Realm settings as given on the command line; `None` keeps the current or default.
#[derive(Debug, Default, Clone)]
pub struct RealmSettings {
    pub access_ttl: Option<i64>,
    /// `Some(None)`: refresh tokens never expire.
    pub refresh_ttl: Option<Option<i64>>,
    pub token_format: Option<TokenFormat>,
    pub signing_alg: Option<SigningAlg>,
    pub refresh_policy: Option<RefreshPolicy>,
    pub refresh_grace: Option<i64>,
    pub allow_implicit: Option<bool>,
    pub require_pkce: Option<bool>,
    pub allow_plain_pkce: Option<bool>,
    pub code_ttl: Option<i64>,
    pub customer_ttl: Option<i64>,
}

impl RealmSettings {
    fn apply(&self, realm: &mut Realm) -> AdminResult<()> {
        if let Some(t) = self.access_ttl {
            realm.access_ttl = positive_ttl("--access-ttl", t)?;
        }
        if let Some(t) = self.refresh_ttl {
            realm.refresh_ttl = t.map(|t| positive_ttl("--refresh-ttl", t)).transpose()?;
        }
        if let Some(f) = self.token_format {
            realm.token_format = f;
        }
        if let Some(a) = self.signing_alg {
            realm.signing_alg = a;
        }
        if let Some(p) = self.refresh_policy {
            realm.refresh_policy = p;
        }
        if let Some(g) = self.refresh_grace {
            if !(0..=300).contains(&g) {
                return Err(invalid(format!("--refresh-grace must be 0 to 300 seconds, got {g}")));
            }
            realm.refresh_grace = g;
        }
        if let Some(b) = self.allow_implicit {
            realm.allow_implicit = b;
        }
        if let Some(b) = self.require_pkce {
            realm.require_pkce = b;
        }
        if let Some(b) = self.allow_plain_pkce {
            realm.allow_plain_pkce = b;
        }
        if let Some(t) = self.code_ttl {
            if !(1..=600).contains(&t) {
                return Err(invalid(format!("--code-ttl must be 1 to 600 seconds (RFC 6749 §4.1.2), got {t}")));
            }
            realm.code_ttl = t;
        }
        if let Some(t) = self.customer_ttl {
            realm.customer_ttl = positive_ttl("--customer-ttl", t)?;
        }
        Ok(())
    }
}

pub struct Admin<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
}

impl<'a> Admin<'a> {
    pub fn new(store: &'a dyn Store, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    async fn hasher(&self) -> AdminResult<SecretHasher> {
        let pepper = self.store.pepper(&crate::secret::random_bytes::<32>()).await?;
        Ok(SecretHasher::new(&pepper))
    }

    pub async fn realm(&self, name: &str) -> AdminResult<Realm> {
        self.store.get_realm(name).await?.ok_or_else(|| AdminError::NotFound(format!("realm '{name}' does not exist")))
    }

    pub async fn create_realm(&self, name: &str, settings: &RealmSettings) -> AdminResult<Realm> {
        Realm::validate_name(name).map_err(invalid)?;
        let now = self.clock.now();
        let mut realm = Realm::new(name, now);
        settings.apply(&mut realm)?;
        let key = keys::generate(name, realm.signing_alg, now).map_err(invalid)?;
        self.store.create_realm(&realm, &key).await.map_err(|e| match e {
            StoreError::Conflict(_) => AdminError::Conflict(format!("realm '{name}' already exists")),
            other => other.into(),
        })?;
        Ok(realm)
    }

    /// Creates the `default` realm unless it exists; several instances starting at
    /// once may race here, and the loser's conflict is fine.
    pub async fn ensure_default_realm(&self) -> AdminResult<()> {
        if self.store.get_realm(DEFAULT_REALM).await?.is_some() {
            return Ok(());
        }
        match self.create_realm(DEFAULT_REALM, &RealmSettings::default()).await {
            Ok(_) | Err(AdminError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Changing the signing algorithm rotates to a new key of that algorithm.
    pub async fn update_realm(&self, name: &str, settings: &RealmSettings) -> AdminResult<Realm> {
        let mut realm = self.realm(name).await?;
        let old_alg = realm.signing_alg;
        settings.apply(&mut realm)?;
        realm.updated_at = self.clock.now();
        self.store.update_realm(&realm).await?;
        if realm.signing_alg != old_alg {
            self.rotate_keys(name).await?;
        }
        Ok(realm)
    }

    pub async fn delete_realm(&self, name: &str) -> AdminResult<()> {
        if name == DEFAULT_REALM {
            return Err(invalid("the default realm cannot be deleted"));
        }
        self.realm(name).await?;
        self.store.delete_realm(name).await?;
        Ok(())
    }

    /// Adds a new signing key of the realm's algorithm. The old keys stop signing now
    /// and keep verifying until the last token they signed has expired.
    pub async fn rotate_keys(&self, realm: &str) -> AdminResult<String> {
        let r = self.realm(realm).await?;
        let longest_client_ttl =
            self.store.list_clients(realm).await?.iter().filter_map(|c| c.access_ttl).max().unwrap_or(0);
        let now = self.clock.now();
        // Another instance may sign with the old key for KEY_CACHE_TTL more.
        let late_signing = crate::authority::KEY_CACHE_TTL.as_secs() as i64;
        let verify_until = now + late_signing + r.access_ttl.max(longest_client_ttl) + LEEWAY_SECS;
        let key = keys::generate(realm, r.signing_alg, now).map_err(invalid)?;
        self.store.rotate_signing_key(&key, now, verify_until).await?;
        Ok(key.kid)
    }

    pub async fn client(&self, realm: &str, id_or_name: &str) -> AdminResult<Client> {
        self.realm(realm).await?;
        self.store
            .find_client(realm, id_or_name)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("client '{id_or_name}' does not exist in realm '{realm}'")))
    }

    pub async fn create_client(&self, realm: &str, spec: &ClientSpec) -> AdminResult<(Client, Option<ClientSecret>)> {
        self.realm(realm).await?;
        let now = self.clock.now();
        let mut client = Client {
            realm: realm.to_owned(),
            client_id: uuid::Uuid::new_v4().to_string(),
            name: String::new(),
            secret_hash: None,
            auth_method: AuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: Vec::new(),
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            access_ttl: None,
            refresh_ttl: None,
            resource_server: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            revision: 0,
        };
        if spec.public && spec.grant_types.is_none() {
            client.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        }
        spec.apply(&mut client, true)?;
        let secret = if client.is_public() {
            None
        } else {
            let s = ClientSecret::generate();
            client.secret_hash = Some(self.hasher().await?.hash(s.expose()));
            Some(s)
        };
        self.store.create_client(&client).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a client named '{}'", client.name))
            }
            other => other.into(),
        })?;
        Ok((client, secret))
    }

    pub async fn update_client(&self, realm: &str, id_or_name: &str, spec: &ClientSpec) -> AdminResult<Client> {
        let mut client = self.client(realm, id_or_name).await?;
        if spec.grant_types.is_some() || spec.auth_method.is_some() {
            self.refuse_app(&client, "its grant types and authentication are fixed").await?;
        }
        let was_public = client.is_public();
        spec.apply(&mut client, false)?;
        if client.is_public() != was_public {
            return Err(invalid("a client cannot change between public and confidential; create a new one"));
        }
        client.updated_at = self.clock.now();
        self.store.update_client(&client).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a client named '{}'", client.name))
            }
            other => other.into(),
        })?;
        Ok(client)
    }

    /// An app's client (`org`) keeps the shape `create_app` gave it: a secret or other
    /// grant types would let it in without an API key.
    async fn refuse_app(&self, client: &Client, why: &str) -> AdminResult<()> {
        if self.store.find_app(&client.realm, &client.client_id).await?.is_some() {
            return Err(invalid(format!("client '{}' is an app: {why}", client.name)));
        }
        Ok(())
    }

    pub async fn delete_client(&self, realm: &str, id_or_name: &str) -> AdminResult<()> {
        let client = self.client(realm, id_or_name).await?;
        self.store.delete_client(realm, &client.client_id).await?;
        Ok(())
    }

    /// A new secret replaces the old one at once. Unless `keep_tokens`, every token
    /// issued to the client so far is revoked too, since a rotation is usually the
    /// answer to a leak.
    pub async fn rotate_client_secret(
        &self,
        realm: &str,
        id_or_name: &str,
        keep_tokens: bool,
    ) -> AdminResult<(Client, ClientSecret)> {
        let client = self.client(realm, id_or_name).await?;
        self.refuse_app(&client, "its secrets are its API keys (apikey create, app reset)").await?;
        if client.is_public() {
            return Err(invalid("public clients have no secret to rotate"));
        }
        let secret = ClientSecret::generate();
        let hash = self.hasher().await?.hash(secret.expose());
        let revoke_at = (!keep_tokens).then(|| self.clock.now());
        self.store.rotate_client_secret(realm, &client.client_id, &hash, revoke_at).await?;
        Ok((client, secret))
    }
}

impl Admin<'_> {
    pub async fn user(&self, realm: &str, id_or_username: &str) -> AdminResult<User> {
        self.realm(realm).await?;
        self.store
            .find_user(realm, id_or_username)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("user '{id_or_username}' does not exist in realm '{realm}'")))
    }

    pub async fn create_user(&self, realm: &str, spec: &UserSpec, password: Option<&str>) -> AdminResult<User> {
        self.realm(realm).await?;
        let now = self.clock.now();
        let mut user = User {
            realm: realm.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            username: String::new(),
            password_hash: None,
            roles: Vec::new(),
            teams: Vec::new(),
            kind: UserKind::Staff,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        spec.apply(&mut user, true)?;
        if let Some(p) = password {
            user.password_hash = Some(hash_password(p)?);
        }
        self.store.create_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a user named '{}'", user.username))
            }
            other => other.into(),
        })?;
        Ok(user)
    }

    pub async fn update_user(&self, realm: &str, id_or_username: &str, spec: &UserSpec) -> AdminResult<User> {
        let mut user = self.user(realm, id_or_username).await?;
        spec.apply(&mut user, false)?;
        user.updated_at = self.clock.now();
        self.store.update_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a user named '{}'", user.username))
            }
            other => other.into(),
        })?;
        Ok(user)
    }

    /// Sets a new password, revokes every grant the user had and ends their browser
    /// sessions, so sign-ins on other devices end (RFC 9700 §4.14.2).
    pub async fn set_password(&self, realm: &str, id_or_username: &str, password: &str) -> AdminResult<User> {
        let user = self.user(realm, id_or_username).await?;
        let hash = hash_password(password)?;
        self.store.set_user_password(realm, &user.id, &hash, self.clock.now()).await?;
        Ok(user)
    }

    /// Clears the user's sign-in failure counters (from every address); answers the
    /// user and how many counters there were.
    pub async fn unlock_user(&self, realm: &str, id_or_username: &str) -> AdminResult<(User, u64)> {
        let user = self.user(realm, id_or_username).await?;
        let cleared = crate::throttle::unlock(self.store, realm, &user.username).await?;
        Ok((user, cleared))
    }

    /// Clears the client's secret-failure counters (`client_throttle`), from every
    /// address; answers the client and how many counters there were.
    pub async fn unlock_client(&self, realm: &str, id_or_name: &str) -> AdminResult<(Client, u64)> {
        let client = self.client(realm, id_or_name).await?;
        let cleared = crate::client_throttle::unlock(self.store, realm, &client.client_id).await?;
        Ok((client, cleared))
    }

    pub async fn delete_user(&self, realm: &str, id_or_username: &str) -> AdminResult<()> {
        let user = self.user(realm, id_or_username).await?;
        self.store.delete_user(realm, &user.id).await?;
        Ok(())
    }

    pub async fn grants(&self, realm: &str, user: Option<&str>, client: Option<&str>) -> AdminResult<Vec<Grant>> {
        self.realm(realm).await?;
        let user_id = match user {
            Some(u) => Some(self.user(realm, u).await?.id),
            None => None,
        };
        let client_id = match client {
            Some(c) => Some(self.client(realm, c).await?.client_id),
            None => None,
        };
        Ok(self.store.list_grants(realm, user_id.as_deref(), client_id.as_deref()).await?)
    }

    pub async fn revoke_grant(&self, id_hex: &str) -> AdminResult<()> {
        let id = crate::token::parse_token_id_hex(id_hex)
            .ok_or_else(|| invalid(format!("'{id_hex}' is not a grant id (32 hex digits)")))?;
        if !self.store.revoke_grant(&id, self.clock.now()).await? {
            return Err(AdminError::NotFound(format!("no live grant '{id_hex}'")));
        }
        Ok(())
    }
}

fn hash_password(p: &str) -> AdminResult<String> {
    if p.chars().count() < 8 || p.len() > crate::password::MAX_PASSWORD_LEN {
        return Err(invalid("passwords must be 8 to 1024 characters"));
    }
    crate::password::hash(p).map_err(invalid)
}

/// User fields as given on the command line; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct UserSpec {
    pub username: Option<String>,
    pub roles: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
    pub kind: Option<UserKind>,
    pub disabled: Option<bool>,
}

impl UserSpec {
    fn apply(&self, u: &mut User, creating: bool) -> AdminResult<()> {
        if let Some(name) = &self.username {
            let ok = !name.is_empty()
                && name.len() <= MAX_USERNAME_BYTES
                && name.trim() == name
                && !name.chars().any(|c| c.is_control());
            if !ok {
                return Err(invalid(
                    "--username must be 1 to 255 bytes, without control characters or surrounding spaces",
                ));
            }
            u.username = name.clone();
        } else if creating {
            return Err(invalid("--username is required"));
        }
        let names_ok = |v: &[String]| {
            v.iter().all(|r| !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        };
        let too_many = [&self.roles, &self.teams].into_iter().flatten().any(|v| v.len() > MAX_LIST_ITEMS);
        if too_many {
            return Err(invalid("a user may have at most 50 roles and 50 teams"));
        }
        if let Some(r) = &self.roles {
            if !names_ok(r) {
                return Err(invalid("role names are 1 to 64 printable ASCII characters without ','"));
            }
            u.roles = dedup(r.clone());
        }
        if let Some(t) = &self.teams {
            if !names_ok(t) {
                return Err(invalid("team names are 1 to 64 printable ASCII characters without ','"));
            }
            u.teams = dedup(t.clone());
        }
        if let Some(k) = self.kind {
            u.kind = k;
        }
        if let Some(d) = self.disabled {
            u.disabled = d;
        }
        Ok(())
    }
}

/// Client fields as given on the command line or to the admin API; `None` keeps the
/// current value (or the default, at creation).
#[derive(Debug, Default, Clone)]
pub struct ClientSpec {
    pub name: Option<String>,
    pub grant_types: Option<Vec<GrantType>>,
    pub redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub default_scopes: Option<Vec<String>>,
    pub public: bool,
    pub auth_method: Option<AuthMethod>,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
    pub resource_server: Option<bool>,
    pub disabled: Option<bool>,
}

impl ClientSpec {
    fn apply(&self, c: &mut Client, creating: bool) -> AdminResult<()> {
        if let Some(name) = &self.name {
            let name = name.trim();
            if name.is_empty() || name.len() > MAX_CLIENT_NAME_BYTES || name.chars().any(char::is_control) {
                return Err(invalid("--name must be 1 to 255 bytes without control characters"));
            }
            c.name = name.to_owned();
        } else if creating {
            return Err(invalid("--name is required"));
        }
        if creating {
            c.auth_method = match (self.public, self.auth_method) {
                (true, None | Some(AuthMethod::None)) | (false, Some(AuthMethod::None)) => AuthMethod::None,
                (true, Some(m)) => {
                    return Err(invalid(format!("--public clients authenticate with 'none', not '{m}'")));
                }
                (false, Some(m)) => m,
                (false, None) => AuthMethod::ClientSecretBasic,
            };
        } else if let Some(m) = self.auth_method {
            if (m == AuthMethod::None) != c.is_public() {
                return Err(invalid("a client cannot change between public and confidential; create a new one"));
            }
            c.auth_method = m;
        }
        if let Some(g) = &self.grant_types {
            if g.is_empty() {
                return Err(invalid("--grant-types needs at least one grant type"));
            }
            c.grant_types = dedup(g.clone());
        }
        if let Some(uris) = &self.redirect_uris {
            if uris.len() > MAX_LIST_ITEMS {
                return Err(invalid("a client may have at most 50 redirect URIs"));
            }
            for u in uris {
                validate_redirect_uri(u)?;
            }
            c.redirect_uris = dedup(uris.clone());
        }
        if let Some(s) = &self.scopes {
            c.scopes = parse_scopes(s, "--scope")?;
            if self.default_scopes.is_none() {
                c.default_scopes.retain(|d| c.scopes.contains(d));
                if creating {
                    c.default_scopes = c.scopes.clone();
                }
            }
        }
        if let Some(d) = &self.default_scopes {
            let d = parse_scopes(d, "--default-scope")?;
            if let Some(bad) = d.iter().find(|s| !c.scopes.contains(s)) {
                return Err(invalid(format!("default scope '{bad}' is not among the client's scopes")));
            }
            c.default_scopes = d;
        }
        if let Some(t) = self.access_ttl {
            c.access_ttl = Some(positive_ttl("--access-ttl", t)?);
        }
        if let Some(t) = self.refresh_ttl {
            c.refresh_ttl = Some(positive_ttl("--refresh-ttl", t)?);
        }
        if let Some(r) = self.resource_server {
            c.resource_server = r;
        }
        if let Some(d) = self.disabled {
            c.disabled = d;
        }
        if c.is_public() && c.allows_grant(GrantType::ClientCredentials) {
            return Err(invalid("public clients cannot use the client_credentials grant"));
        }
        let needs_redirect = c.allows_grant(GrantType::AuthorizationCode) || c.allows_grant(GrantType::Implicit);
        if needs_redirect && c.redirect_uris.is_empty() {
            return Err(invalid("authorization_code and implicit clients need at least one --redirect-uri"));
        }
        Ok(())
    }
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn parse_scopes(values: &[String], flag: &str) -> AdminResult<Vec<String>> {
    let joined = values.join(" ");
    if joined.len() > MAX_SCOPES_BYTES {
        return Err(invalid(format!("{flag}: the scopes together must be at most 2048 bytes")));
    }
    let set = ScopeSet::parse(&joined).map_err(|e| invalid(format!("{flag}: {}", e.description())))?;
    Ok(set.iter().map(str::to_owned).collect())
}

/// A redirect URI an admin may register: absolute, no fragment, no wildcard, and
/// `https`, loopback `http` (RFC 8252 §7.3), or a private-use scheme of a native app
/// (RFC 8252 §7.1). Script-bearing schemes are refused (RFC 9700 §2.6).
pub fn validate_redirect_uri(raw: &str) -> AdminResult<()> {
    let bad = |why: &str| invalid(format!("redirect URI '{}' {why}", raw.escape_default()));
    if raw.len() > MAX_REDIRECT_URI_BYTES {
        return Err(bad("is longer than 2000 bytes"));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') || raw.contains('*') {
        return Err(bad("contains whitespace, control characters, '\\' or a wildcard"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not an absolute URI ({e})")))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
            if !loopback {
                return Err(bad("uses http, which is only allowed for loopback addresses"));
            }
        }
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" => {
            return Err(bad("uses a scheme that can carry script or local content"));
        }
        // Native apps use reverse-domain private schemes (com.example.app:/cb).
        s if s.contains('.') => {}
        s => return Err(bad(&format!("uses scheme '{s}': use https, loopback http, or a reverse-domain scheme"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain user information"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        for ok in
            ["https://app.example/cb", "http://127.0.0.1/cb", "http://localhost:8080/x?a=1", "com.example.app:/cb"]
        {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.example/cb#x",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "http://app.example/cb",
            "https://*.example/cb",
            "/relative",
            "https://a@evil.example/cb",
            "https://app.example/c b",
            "http://[:::::::]/",
            "myapp:/cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
