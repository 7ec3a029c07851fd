use clap::Subcommand;
use portcullis_core::admin::Admin;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::store::Store;
use serde_json::json;

use crate::output::print;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key; old keys keep verifying until their tokens expire
    Rotate {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
    /// List the realm's keys that still verify (never their private parts)
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: KeysCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    match command {
        KeysCommand::Rotate { realm, json } => {
            let kid = admin.rotate_keys(&realm).await.map_err(|e| e.to_string())?;
            print(&json!({"realm": realm, "kid": kid}), json);
        }
        KeysCommand::List { realm, json } => {
            admin.realm(&realm).await.map_err(|e| e.to_string())?;
            let keys = store.signing_keys(&realm, clock.now()).await.map_err(|e| e.to_string())?;
            let rows = keys
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.kid,
                        "alg": k.alg.as_str(),
                        "created_at": k.created_at,
                        "retired_at": k.retired_at,
                        "verify_until": k.verify_until,
                    })
                })
                .collect();
            print(&serde_json::Value::Array(rows), json);
        }
    }
    Ok(())
}
