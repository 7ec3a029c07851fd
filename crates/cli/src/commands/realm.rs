use clap::{Args, Subcommand};
use portcullis_core::admin::{Admin, RealmSettings};
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::model::{Realm, RefreshPolicy, SigningAlg, SigningKeyRecord, TokenFormat};
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::output::{done, print, print_ordered};

#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Create a realm with its first signing key
    Create {
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        #[arg(long)]
        json: bool,
    },
    /// List realms
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one realm: its signing key and token lifetimes first, then its settings
    Show {
        name: String,
        /// Also print an HS256/HS512 realm's shared secret (base64), which anyone
        /// holding it can mint tokens with; asymmetric private keys are never printed
        #[arg(long)]
        show_secret: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a realm's settings (a new signing algorithm rotates its key)
    Update {
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        #[arg(long)]
        json: bool,
    },
    /// Delete a realm and everything in it
    Delete {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Access-token lifetime in seconds (default 3600)
    #[arg(long, value_name = "SECS")]
    access_ttl: Option<i64>,
    /// Refresh-token lifetime in seconds, or `never` (default 2592000)
    #[arg(long, value_name = "SECS")]
    refresh_ttl: Option<String>,
    /// Access-token format
    #[arg(long, value_name = "opaque|jwt")]
    token_format: Option<String>,
    /// JWT signing algorithm: ES256, RS256, EdDSA, HS256 or HS512
    #[arg(long, value_name = "ALG")]
    signing_alg: Option<String>,
    /// Refresh tokens: rotate (one-time use, default) or reuse
    #[arg(long, value_name = "rotate|reuse")]
    refresh_policy: Option<String>,
    /// Seconds a just-rotated refresh token may be presented again by its client (0: off)
    #[arg(long, value_name = "SECS")]
    refresh_grace: Option<i64>,
    /// Allow the implicit flow (response_type=token) for clients registered for it
    #[arg(long, value_name = "true|false")]
    allow_implicit: Option<bool>,
    /// Require PKCE from confidential clients too
    #[arg(long, value_name = "true|false")]
    require_pkce: Option<bool>,
    /// Accept code_challenge_method=plain
    #[arg(long, value_name = "true|false")]
    allow_plain_pkce: Option<bool>,
    /// Authorization code lifetime in seconds (default 60)
    #[arg(long, value_name = "SECS")]
    code_ttl: Option<i64>,
    /// Customer-token lifetime in seconds (customers signed in through an app's API key; default 3600)
    #[arg(long, value_name = "SECS")]
    customer_ttl: Option<i64>,
}

impl SettingsArgs {
    fn parse(&self) -> Result<RealmSettings, String> {
        let refresh_ttl = match self.refresh_ttl.as_deref() {
            None => None,
            Some("never") => Some(None),
            Some(s) => Some(Some(
                s.parse::<i64>().map_err(|_| format!("invalid --refresh-ttl '{s}': expected seconds or 'never'"))?,
            )),
        };
        Ok(RealmSettings {
            access_ttl: self.access_ttl,
            refresh_ttl,
            token_format: self.token_format.as_deref().map(str::parse::<TokenFormat>).transpose()?,
            signing_alg: self.signing_alg.as_deref().map(str::parse::<SigningAlg>).transpose()?,
            refresh_policy: self.refresh_policy.as_deref().map(str::parse::<RefreshPolicy>).transpose()?,
            refresh_grace: self.refresh_grace,
            allow_implicit: self.allow_implicit,
            require_pkce: self.require_pkce,
            allow_plain_pkce: self.allow_plain_pkce,
            code_ttl: self.code_ttl,
            customer_ttl: self.customer_ttl,
        })
    }
}

pub fn realm_json(r: &Realm) -> serde_json::Value {
    json!({
        "name": r.name,
        "access_ttl": r.access_ttl,
        "refresh_ttl": r.refresh_ttl,
        "token_format": r.token_format.as_str(),
        "signing_alg": r.signing_alg.as_str(),
        "refresh_policy": r.refresh_policy.as_str(),
        "refresh_grace": r.refresh_grace,
        "allow_implicit": r.allow_implicit,
        "require_pkce": r.require_pkce,
        "allow_plain_pkce": r.allow_plain_pkce,
        "code_ttl": r.code_ttl,
        "customer_ttl": r.customer_ttl,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

/// The key the realm signs with now: its kid and algorithm, and where the private
/// part lives. An HS secret is printed only when asked for.
fn signing_json(realm: &Realm, keys: &[SigningKeyRecord], show_secret: bool) -> serde_json::Value {
    let current =
        keys.iter().filter(|k| k.retired_at.is_none() && k.alg == realm.signing_alg).max_by_key(|k| k.created_at);
    let Some(key) = current else {
        return json!({"kid": null, "alg": realm.signing_alg.as_str(), "key": "none yet: rotate one with `portcullis keys rotate`"});
    };
    let mut shown = json!({
        "kid": key.kid,
        "alg": key.alg.as_str(),
        "created_at": key.created_at,
    });
    if key.alg.is_symmetric() {
        shown["key"] = json!("a random shared secret, kept in the database (table signing_keys), never published");
        if show_secret {
            shown["secret"] = json!(key.private_pem);
        }
    } else {
        shown["key"] = json!("a private key kept in the database (table signing_keys); its public half is in the JWKS");
    }
    shown
}

/// How long the realm's tokens live, in seconds (`null`: refresh tokens never expire).
fn validity_json(realm: &Realm) -> serde_json::Value {
    json!({
        "access_ttl": realm.access_ttl,
        "refresh_ttl": realm.refresh_ttl,
        "customer_ttl": realm.customer_ttl,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: RealmCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: portcullis_core::admin::AdminError| e.to_string();
    match command {
        RealmCommand::Create { name, settings, json } => {
            let realm = admin.create_realm(&name, &settings.parse()?).await.map_err(err)?;
            changes::record(store.as_ref(), "realm.create", Some(&name), Some(&name)).await;
            print(&realm_json(&realm), json);
        }
        RealmCommand::List { json } => {
            let realms = store.list_realms().await.map_err(|e| e.to_string())?;
            print(&serde_json::Value::Array(realms.iter().map(realm_json).collect()), json);
        }
        RealmCommand::Show { name, show_secret, json } => {
            let realm = admin.realm(&name).await.map_err(err)?;
            let keys = store.signing_keys(&name, clock.now()).await.map_err(|e| e.to_string())?;
            let mut rest = realm_json(&realm);
            if !json {
                // Shown once, under validity; the JSON keeps them where scripts read them.
                if let Some(map) = rest.as_object_mut() {
                    for ttl in ["access_ttl", "refresh_ttl", "customer_ttl"] {
                        map.remove(ttl);
                    }
                }
            }
            let sections = [
                ("signing", signing_json(&realm, &keys, show_secret)),
                ("validity", validity_json(&realm)),
                ("", rest),
            ];
            print_ordered(&sections, json);
        }
        RealmCommand::Update { name, settings, json } => {
            let settings = settings.parse()?;
            let before = realm_json(&admin.realm(&name).await.map_err(err)?);
            let after = realm_json(&admin.update_realm(&name, &settings).await.map_err(err)?);
            changes::record_change(store.as_ref(), "realm.update", Some(&name), Some(&name), before, after.clone())
                .await;
            print(&after, json);
        }
        RealmCommand::Delete { name, json } => {
            admin.delete_realm(&name).await.map_err(err)?;
            changes::record(store.as_ref(), "realm.delete", Some(&name), Some(&name)).await;
            done(&format!("deleted realm {name}"), json!({"realm": name, "deleted": true}), json);
        }
    }
    Ok(())
}
