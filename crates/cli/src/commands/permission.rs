use clap::Subcommand;
use portcullis_core::admin::{Admin, AdminError};
use portcullis_core::clock::SystemClock;
use portcullis_core::org::Permission;
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum PermissionCommand {
    /// Define a permission; it is bound to the realm's lowest free bit of `perm_bits`
    Create {
        #[arg(long)]
        realm: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List a realm's permissions by bit
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a permission (roles lose it; its bit becomes free)
    Delete {
        #[arg(long)]
        realm: String,
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn permission_json(p: &Permission) -> serde_json::Value {
    json!({"name": p.name, "realm": p.realm, "bit": p.bit, "created_at": p.created_at})
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: PermissionCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        PermissionCommand::Create { realm, name, json } => {
            let permission = admin.create_permission(&realm, &name).await.map_err(err)?;
            changes::record(store.as_ref(), "permission.create", Some(&realm), Some(&permission.name)).await;
            print(&permission_json(&permission), json);
        }
        PermissionCommand::List { realm, json } => {
            let all = admin.permissions(&realm).await.map_err(err)?;
            print(&serde_json::Value::Array(all.iter().map(permission_json).collect()), json);
        }
        PermissionCommand::Delete { realm, name, json } => {
            admin.delete_permission(&realm, &name).await.map_err(err)?;
            changes::record(store.as_ref(), "permission.delete", Some(&realm), Some(&name)).await;
            done(&format!("deleted permission {name}"), json!({"name": name, "deleted": true}), json);
        }
    }
    Ok(())
}
