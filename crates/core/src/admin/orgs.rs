//! Administrative operations on apps, API keys, permissions and the roles that carry
//! them (see `crate::org`), shared by the CLI and the admin API. Every input is checked
//! (realm, app, permissions exist) before anything is written.

use super::{Admin, AdminError, AdminResult, MAX_CLIENT_NAME_BYTES, MAX_LIST_ITEMS, invalid};
use crate::model::{AuthMethod, Client, GrantType};
use crate::org::{ApiKey, App, Permission, validate_permission_name};
use crate::scope::ScopeSet;
use crate::store::StoreError;
use crate::token::{api_key, parse_token_id_hex, token_id_hex};

/// A new API key's settings.
#[derive(Debug, Default, Clone)]
pub struct ApiKeySpec {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub permissions: Vec<String>,
    pub test: bool,
}

/// A key shown once, on creation.
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey").field("key", &self.key).finish_non_exhaustive()
    }
}

fn check_name(what: &str, name: &str) -> AdminResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CLIENT_NAME_BYTES
        && name.trim() == name
        && !name.chars().any(char::is_control);
    if ok { Ok(()) } else { Err(invalid(format!("invalid {what} name '{}'", name.escape_default()))) }
}

impl Admin<'_> {
    pub async fn app(&self, realm: &str, id_or_name: &str) -> AdminResult<App> {
        self.realm(realm).await?;
        self.store
            .find_app(realm, id_or_name)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("app '{id_or_name}' does not exist in realm '{realm}'")))
    }

    pub async fn apps(&self, realm: &str) -> AdminResult<Vec<App>> {
        self.realm(realm).await?;
        Ok(self.store.list_apps(realm).await?)
    }

    /// An app and its client: no secret of its own (its API keys are its secrets),
    /// the password grant for its customers and refresh for their tokens.
    pub async fn create_app(&self, realm: &str, name: &str) -> AdminResult<App> {
        self.realm(realm).await?;
        check_name("app", name)?;
        let now = self.clock.now();
        let app_id = uuid::Uuid::new_v4().to_string();
        let client = Client {
            realm: realm.to_owned(),
            client_id: app_id.clone(),
            name: name.to_owned(),
            secret_hash: None,
            auth_method: AuthMethod::ClientSecretBasic,
            grant_types: vec![GrantType::Password, GrantType::RefreshToken],
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
        let app = App { realm: realm.to_owned(), app_id, name: name.to_owned(), created_at: now, reset_at: None };
        self.store.create_app(&app, &client).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a client or app named '{name}'"))
            }
            other => other.into(),
        })?;
        Ok(app)
    }

    /// Revokes every key of the app, and every customer token issued through one;
    /// answers how many keys were live.
    pub async fn reset_app(&self, realm: &str, id_or_name: &str) -> AdminResult<(App, u64)> {
        let app = self.app(realm, id_or_name).await?;
        let revoked = self.store.reset_app(realm, &app.app_id, self.clock.now()).await?;
        Ok((app, revoked))
    }

    pub async fn delete_app(&self, realm: &str, id_or_name: &str) -> AdminResult<()> {
        let app = self.app(realm, id_or_name).await?;
        self.store.delete_app(realm, &app.app_id).await?;
        Ok(())
    }

    pub async fn create_api_key(&self, realm: &str, app: &str, spec: &ApiKeySpec) -> AdminResult<NewApiKey> {
        let app = self.app(realm, app).await?;
        let name = spec.name.clone().unwrap_or_else(|| "default".to_owned());
        check_name("API key", &name)?;
        let scope = match &spec.scope {
            Some(s) => {
                ScopeSet::parse(s).map_err(|e| invalid(format!("--scope: {}", e.description())))?.to_string_list()
            }
            None => String::new(),
        };
        let permissions = self.existing_permissions(realm, &spec.permissions).await?;
        let minted = api_key::mint(spec.test);
        let key = ApiKey {
            id: minted.id,
            realm: realm.to_owned(),
            app_id: app.app_id.clone(),
            name,
            verifier_hash: minted.verifier_hash,
            scope,
            permissions,
            test: spec.test,
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_api_key(&key).await.map_err(|e| match e {
            StoreError::NotFound => AdminError::NotFound(format!("app '{}' was deleted meanwhile", app.name)),
            other => other.into(),
        })?;
        Ok(NewApiKey { key, secret: minted.key })
    }

    /// The realm's keys, or one app's.
    pub async fn api_keys(&self, realm: &str, app: Option<&str>) -> AdminResult<Vec<ApiKey>> {
        self.realm(realm).await?;
        let app_id = match app {
            Some(a) => Some(self.app(realm, a).await?.app_id),
            None => None,
        };
        Ok(self.store.list_api_keys(realm, app_id.as_deref()).await?)
    }

    /// By its id (32 hex digits, as `apikey list` shows it).
    pub async fn api_key(&self, realm: &str, id_hex: &str) -> AdminResult<ApiKey> {
        self.realm(realm).await?;
        let not_found = || AdminError::NotFound(format!("API key '{id_hex}' does not exist in realm '{realm}'"));
        let id = parse_token_id_hex(id_hex).ok_or_else(not_found)?;
        match self.store.get_api_key(&id).await? {
            Some(stored) if stored.key.realm == realm => Ok(stored.key),
            _ => Err(not_found()),
        }
    }

    /// Revokes one key and the customer tokens issued through it.
    pub async fn revoke_api_key(&self, realm: &str, id_hex: &str) -> AdminResult<ApiKey> {
        let key = self.api_key(realm, id_hex).await?;
        if !self.store.revoke_api_key(realm, &key.id, self.clock.now()).await? {
            return Err(AdminError::NotFound(format!("API key '{}' is already revoked", token_id_hex(&key.id))));
        }
        Ok(key)
    }

    pub async fn create_permission(&self, realm: &str, name: &str) -> AdminResult<Permission> {
        self.realm(realm).await?;
        validate_permission_name(name).map_err(invalid)?;
        self.store.create_permission(realm, name, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(m) if m.contains("name") => {
                AdminError::Conflict(format!("realm '{realm}' already has a permission named '{name}'"))
            }
            other => other.into(),
        })
    }

    pub async fn permissions(&self, realm: &str) -> AdminResult<Vec<Permission>> {
        self.realm(realm).await?;
        Ok(self.store.list_permissions(realm).await?)
    }

    pub async fn delete_permission(&self, realm: &str, name: &str) -> AdminResult<()> {
        self.realm(realm).await?;
        self.store.delete_permission(realm, name).await.map_err(|e| match e {
            StoreError::NotFound => {
                AdminError::NotFound(format!("permission '{name}' does not exist in realm '{realm}'"))
            }
            other => other.into(),
        })
    }

    /// Gives `role` exactly `permissions` (all of which must exist).
    pub async fn set_role_permissions(
        &self,
        realm: &str,
        role: &str,
        permissions: &[String],
    ) -> AdminResult<Vec<String>> {
        self.realm(realm).await?;
        if role.is_empty() || role.len() > 255 || role.contains([' ', ',', '\n']) || role.chars().any(char::is_control)
        {
            return Err(invalid(format!("invalid role name '{}'", role.escape_default())));
        }
        let permissions = self.existing_permissions(realm, permissions).await?;
        self.store.set_role_permissions(realm, role, &permissions).await.map_err(|e| match e {
            StoreError::NotFound => AdminError::NotFound("a permission was deleted meanwhile; retry".to_owned()),
            other => other.into(),
        })?;
        Ok(permissions)
    }

    pub async fn role_permissions(&self, realm: &str) -> AdminResult<Vec<(String, Vec<String>)>> {
        self.realm(realm).await?;
        Ok(self.store.list_role_permissions(realm).await?)
    }

    /// `names` deduplicated in order, each checked to exist in the realm; the first
    /// unknown one is named in the error.
    async fn existing_permissions(&self, realm: &str, names: &[String]) -> AdminResult<Vec<String>> {
        if names.len() > MAX_LIST_ITEMS * 20 {
            return Err(invalid("too many permissions"));
        }
        let known = self.store.list_permissions(realm).await?;
        let mut out: Vec<String> = Vec::new();
        for name in names {
            if !known.iter().any(|p| &p.name == name) {
                return Err(AdminError::NotFound(format!(
                    "permission '{}' does not exist in realm '{realm}'",
                    name.escape_default()
                )));
            }
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        Ok(out)
    }
}
