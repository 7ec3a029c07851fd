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

/// What `update_api_key` changes; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ApiKeyChange {
    pub name: Option<String>,
    /// Space-separated; empty for none.
    pub scope: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// A key's mode is written in the key itself (`pcak_test_`, `pcak_live_`), so only
    /// the key's own value is accepted: a different one would make the prefix lie to
    /// secret scanners and to `live_api_key`'s check of it.
    pub test: Option<bool>,
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

/// A key's scope as stored: validated, space-separated, empty for none.
fn key_scope(raw: &str) -> AdminResult<String> {
    Ok(ScopeSet::parse(raw).map_err(|e| invalid(format!("--scope: {}", e.description())))?.to_string_list())
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

    /// Renames an app (and its client, whose name it is).
    pub async fn update_app(&self, realm: &str, id_or_name: &str, name: &str) -> AdminResult<App> {
        let mut app = self.app(realm, id_or_name).await?;
        check_name("app", name)?;
        self.store.update_app(realm, &app.app_id, name, self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                AdminError::Conflict(format!("realm '{realm}' already has a client or app named '{name}'"))
            }
            StoreError::NotFound => AdminError::NotFound(format!("app '{id_or_name}' was deleted meanwhile")),
            other => other.into(),
        })?;
        app.name = name.to_owned();
        Ok(app)
    }

    pub async fn create_api_key(&self, realm: &str, app: &str, spec: &ApiKeySpec) -> AdminResult<NewApiKey> {
        let app = self.app(realm, app).await?;
        let name = spec.name.clone().unwrap_or_else(|| "default".to_owned());
        check_name("API key", &name)?;
        let scope = spec.scope.as_deref().map(key_scope).transpose()?.unwrap_or_default();
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

    /// Changes a live key's name, scope or permissions. Every check runs before the one
    /// write; nothing caches keys (`Store::get_api_key` is read on every use), so a
    /// narrowed key is narrowed for its next sign-in, refresh and introspection.
    pub async fn update_api_key(&self, realm: &str, id_hex: &str, change: &ApiKeyChange) -> AdminResult<ApiKey> {
        let mut key = self.api_key(realm, id_hex).await?;
        let id = token_id_hex(&key.id);
        if key.revoked_at.is_some() {
            return Err(AdminError::Conflict(format!("API key '{id}' is revoked; create a new key")));
        }
        if change.test.is_some_and(|t| t != key.test) {
            let mode = if key.test { "test" } else { "live" };
            return Err(invalid(format!(
                "--test: this is a {mode} key and its mode is part of the key itself; create a new key instead"
            )));
        }
        if let Some(name) = &change.name {
            check_name("API key", name)?;
            key.name = name.clone();
        }
        if let Some(scope) = &change.scope {
            key.scope = key_scope(scope)?;
        }
        if let Some(permissions) = &change.permissions {
            key.permissions = self.existing_permissions(realm, permissions).await?;
        }
        match self.store.update_api_key(&key).await {
            Ok(true) => Ok(key),
            Ok(false) => Err(AdminError::Conflict(format!("API key '{id}' was revoked meanwhile"))),
            Err(StoreError::NotFound) => {
                Err(AdminError::NotFound("a permission was deleted meanwhile; retry".to_owned()))
            }
            Err(other) => Err(other.into()),
        }
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

    pub async fn permission(&self, realm: &str, name: &str) -> AdminResult<Permission> {
        self.permissions(realm).await?.into_iter().find(|p| p.name == name).ok_or_else(|| {
            AdminError::NotFound(format!("permission '{}' does not exist in realm '{realm}'", name.escape_default()))
        })
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

    /// One role's permissions; a role exists while it carries one.
    pub async fn role(&self, realm: &str, role: &str) -> AdminResult<Vec<String>> {
        self.role_permissions(realm).await?.into_iter().find(|(r, _)| r == role).map(|(_, p)| p).ok_or_else(|| {
            AdminError::NotFound(format!("role '{}' carries no permission in realm '{realm}'", role.escape_default()))
        })
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
