use std::path::PathBuf;

use clap::Subcommand;
use portcullis_core::admin::Admin;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::config::GlobalArgs;
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
    /// Re-encrypt every private key and the pepper under a new master key; start the
    /// servers with the new key afterwards
    Rewrap(RewrapArgs),
}

#[derive(Debug, clap::Args)]
pub struct RewrapArgs {
    /// File holding the new master key; created with a fresh key if it does not exist
    #[arg(long, value_name = "FILE")]
    new_key_file: PathBuf,
    #[arg(long)]
    json: bool,
}

pub async fn rewrap(global: &GlobalArgs, args: RewrapArgs) -> Result<(), String> {
    let (count, id) = super::rewrap(global, &args.new_key_file).await?;
    let shown = json!({
        "rewrapped": count,
        "master_key_id": id,
        "master_key_file": args.new_key_file.display().to_string(),
    });
    print(&shown, args.json);
    Ok(())
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: KeysCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    match command {
        KeysCommand::Rotate { realm, json } => {
            let kid = admin.rotate_keys(&realm).await.map_err(|e| e.to_string())?;
            changes::record(store.as_ref(), "keys.rotate", Some(&realm), Some(&kid)).await;
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
        // Dispatched to `rewrap` before a store is opened (commands::run).
        KeysCommand::Rewrap(_) => return Err("keys rewrap opens the database itself".into()),
    }
    Ok(())
}
