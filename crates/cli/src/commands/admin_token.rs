use clap::Subcommand;
use portcullis_core::admin::Admin;
use portcullis_core::admin_token::AdminTokenRecord;
use portcullis_core::clock::SystemClock;
use portcullis_core::store::Store;
use serde_json::{Value, json};

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create a token for the admin REST API; it is shown once, only its hash is stored
    Create {
        /// The realm it administers; without it, every realm
        #[arg(long)]
        realm: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List admin tokens (never the tokens themselves)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an admin token: it stops working at once
    Revoke {
        /// Admin token id (32 hex digits, as `list` shows)
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn token_json(t: &AdminTokenRecord) -> Value {
    json!({
        "id": t.id_hex(),
        "realm": t.realm,
        "created_at": t.created_at,
        "revoked_at": t.revoked_at,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: AdminTokenCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    match command {
        AdminTokenCommand::Create { realm, json } => {
            let (record, secret) = admin.create_admin_token(realm.as_deref()).await.map_err(|e| e.to_string())?;
            changes::record(store.as_ref(), "admin_token.create", realm.as_deref(), Some(&record.id_hex())).await;
            let mut out = token_json(&record);
            out["token"] = Value::String(secret.expose().to_owned());
            print(&out, json);
        }
        AdminTokenCommand::List { json } => {
            let tokens = admin.admin_tokens().await.map_err(|e| e.to_string())?;
            print(&Value::Array(tokens.iter().map(token_json).collect()), json);
        }
        AdminTokenCommand::Revoke { id, json } => {
            let record = admin.revoke_admin_token(&id).await.map_err(|e| e.to_string())?;
            changes::record(store.as_ref(), "admin_token.revoke", record.realm.as_deref(), Some(&record.id_hex()))
                .await;
            done(&format!("revoked admin token {id}"), json!({"id": record.id_hex(), "revoked": true}), json);
        }
    }
    Ok(())
}
