use clap::Subcommand;
use portcullis_core::admin::{Admin, AdminError};
use portcullis_core::clock::SystemClock;
use portcullis_core::model::split_list;
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::output::print;

/// Roles are named on accounts (`user create --roles`); here they are given
/// permissions, which customer tokens carry (bounded by the API key's).
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Give a role permissions (added to those it has)
    Grant {
        #[arg(long)]
        realm: String,
        role: String,
        /// Comma-separated permission names
        #[arg(long, value_name = "p1,p2")]
        permissions: String,
        #[arg(long)]
        json: bool,
    },
    /// Take permissions from a role
    Revoke {
        #[arg(long)]
        realm: String,
        role: String,
        /// Comma-separated permission names
        #[arg(long, value_name = "p1,p2")]
        permissions: String,
        #[arg(long)]
        json: bool,
    },
    /// List the roles that have permissions, with them
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
}

fn role_json(role: &str, permissions: &[String]) -> serde_json::Value {
    json!({"role": role, "permissions": permissions})
}

async fn current(admin: &Admin<'_>, realm: &str, role: &str) -> Result<Vec<String>, String> {
    let all = admin.role_permissions(realm).await.map_err(|e| e.to_string())?;
    Ok(all.into_iter().find(|(r, _)| r == role).map(|(_, p)| p).unwrap_or_default())
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: RoleCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        RoleCommand::Grant { realm, role, permissions, json } => {
            let mut wanted = current(&admin, &realm, &role).await?;
            wanted.extend(split_list(&permissions));
            let set = admin.set_role_permissions(&realm, &role, &wanted).await.map_err(err)?;
            changes::record(store.as_ref(), "role.set_permissions", Some(&realm), Some(&role)).await;
            print(&role_json(&role, &set), json);
        }
        RoleCommand::Revoke { realm, role, permissions, json } => {
            let dropped = split_list(&permissions);
            let kept: Vec<String> =
                current(&admin, &realm, &role).await?.into_iter().filter(|p| !dropped.contains(p)).collect();
            let set = admin.set_role_permissions(&realm, &role, &kept).await.map_err(err)?;
            changes::record(store.as_ref(), "role.set_permissions", Some(&realm), Some(&role)).await;
            print(&role_json(&role, &set), json);
        }
        RoleCommand::List { realm, json } => {
            let all = admin.role_permissions(&realm).await.map_err(err)?;
            print(&serde_json::Value::Array(all.iter().map(|(r, p)| role_json(r, p)).collect()), json);
        }
    }
    Ok(())
}
