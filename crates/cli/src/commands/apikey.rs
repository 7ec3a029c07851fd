use clap::Subcommand;
use portcullis_core::admin::{Admin, AdminError, ApiKeyChange, ApiKeySpec};
use portcullis_core::clock::SystemClock;
use portcullis_core::model::split_list;
use portcullis_core::org::ApiKey;
use portcullis_core::store::Store;
use portcullis_core::token::token_id_hex;
use serde_json::json;

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for an app; the key is printed once (only its hash is stored)
    Create {
        #[arg(long)]
        realm: String,
        /// App id or name
        #[arg(long)]
        app: String,
        /// A name to tell the app's keys apart (default "default")
        #[arg(long)]
        name: Option<String>,
        /// Space-separated scopes: the most its customers' tokens may carry
        #[arg(long, value_name = "\"s1 s2\"")]
        scope: Option<String>,
        /// Comma-separated permission names: the most its customers' tokens may carry
        #[arg(long, value_name = "p1,p2")]
        permissions: Option<String>,
        /// A test-mode key (`pcak_test_…`): its tokens carry `test: true`
        #[arg(long)]
        test: bool,
        #[arg(long)]
        json: bool,
    },
    /// List a realm's API keys (never the keys themselves)
    List {
        #[arg(long)]
        realm: String,
        /// Only this app's keys (id or name)
        #[arg(long)]
        app: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one API key by id
    Show {
        #[arg(long)]
        realm: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a live API key's name, scope or permissions, from its next use on (the key
    /// itself and its mode never change)
    Update {
        #[arg(long)]
        realm: String,
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Space-separated scopes, replacing the key's ("" for none)
        #[arg(long, value_name = "\"s1 s2\"")]
        scope: Option<String>,
        /// Comma-separated permission names, replacing the key's ("" for none)
        #[arg(long, value_name = "p1,p2")]
        permissions: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one API key (and the customer tokens issued through it)
    Revoke {
        #[arg(long)]
        realm: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn api_key_json(k: &ApiKey) -> serde_json::Value {
    json!({
        "id": token_id_hex(&k.id),
        "realm": k.realm,
        "app_id": k.app_id,
        "name": k.name,
        "scope": k.scope,
        "permissions": k.permissions,
        "test": k.test,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: ApiKeyCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        ApiKeyCommand::Create { realm, app, name, scope, permissions, test, json } => {
            let spec = ApiKeySpec {
                name,
                scope,
                permissions: permissions.as_deref().map(split_list).unwrap_or_default(),
                test,
            };
            let created = admin.create_api_key(&realm, &app, &spec).await.map_err(err)?;
            let id = token_id_hex(&created.key.id);
            changes::record(store.as_ref(), "api_key.create", Some(&realm), Some(&id)).await;
            let mut value = api_key_json(&created.key);
            value["key"] = json!(created.secret);
            print(&value, json);
            if !json {
                eprintln!("the key is shown only now; store it safely");
            }
        }
        ApiKeyCommand::List { realm, app, json } => {
            let keys = admin.api_keys(&realm, app.as_deref()).await.map_err(err)?;
            print(&serde_json::Value::Array(keys.iter().map(api_key_json).collect()), json);
        }
        ApiKeyCommand::Show { realm, id, json } => {
            print(&api_key_json(&admin.api_key(&realm, &id).await.map_err(err)?), json)
        }
        ApiKeyCommand::Update { realm, id, name, scope, permissions, json } => {
            let change = ApiKeyChange { name, scope, permissions: permissions.as_deref().map(split_list), test: None };
            let key = admin.update_api_key(&realm, &id, &change).await.map_err(err)?;
            changes::record(store.as_ref(), "api_key.update", Some(&realm), Some(&token_id_hex(&key.id))).await;
            print(&api_key_json(&key), json);
        }
        ApiKeyCommand::Revoke { realm, id, json } => {
            let key = admin.revoke_api_key(&realm, &id).await.map_err(err)?;
            let id = token_id_hex(&key.id);
            changes::record(store.as_ref(), "api_key.revoke", Some(&realm), Some(&id)).await;
            done(&format!("revoked API key {id}"), json!({"id": id, "revoked": true}), json);
        }
    }
    Ok(())
}
