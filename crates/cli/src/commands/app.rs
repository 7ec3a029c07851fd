use clap::Subcommand;
use portcullis_core::admin::{Admin, AdminError};
use portcullis_core::clock::SystemClock;
use portcullis_core::org::App;
use portcullis_core::store::Store;
use serde_json::json;

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an app: a container of API keys, and the client its server signs customers in through
    Create {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List a realm's apps
    List {
        #[arg(long)]
        realm: String,
        #[arg(long)]
        json: bool,
    },
    /// Show an app
    Show {
        #[arg(long)]
        realm: String,
        /// App id or name
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Rename an app (its keys and tokens are unchanged)
    Update {
        #[arg(long)]
        realm: String,
        /// App id or name
        app: String,
        /// New name
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke every API key of the app at once (and the customer tokens issued through them)
    Reset {
        #[arg(long)]
        realm: String,
        /// App id or name
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete an app with its keys and every token issued through it
    Delete {
        #[arg(long)]
        realm: String,
        /// App id or name
        app: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn app_json(a: &App) -> serde_json::Value {
    json!({
        "app_id": a.app_id,
        "realm": a.realm,
        "name": a.name,
        "created_at": a.created_at,
        "reset_at": a.reset_at,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: AppCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    let err = |e: AdminError| e.to_string();
    match command {
        AppCommand::Create { realm, name, json } => {
            let app = admin.create_app(&realm, &name).await.map_err(err)?;
            changes::record(store.as_ref(), "app.create", Some(&realm), Some(&app.app_id)).await;
            print(&app_json(&app), json);
        }
        AppCommand::List { realm, json } => {
            let apps = admin.apps(&realm).await.map_err(err)?;
            print(&serde_json::Value::Array(apps.iter().map(app_json).collect()), json);
        }
        AppCommand::Show { realm, app, json } => print(&app_json(&admin.app(&realm, &app).await.map_err(err)?), json),
        AppCommand::Update { realm, app, name, json } => {
            let app = admin.update_app(&realm, &app, &name).await.map_err(err)?;
            changes::record(store.as_ref(), "app.update", Some(&realm), Some(&app.app_id)).await;
            print(&app_json(&app), json);
        }
        AppCommand::Reset { realm, app, json } => {
            let (app, revoked) = admin.reset_app(&realm, &app).await.map_err(err)?;
            changes::record(store.as_ref(), "app.reset", Some(&realm), Some(&app.app_id)).await;
            done(
                &format!("reset app {}: {revoked} API key(s) revoked", app.name),
                json!({"app_id": app.app_id, "name": app.name, "revoked_keys": revoked}),
                json,
            );
        }
        AppCommand::Delete { realm, app, json } => {
            let shown = admin.app(&realm, &app).await.map_err(err)?;
            admin.delete_app(&realm, &shown.app_id).await.map_err(err)?;
            changes::record(store.as_ref(), "app.delete", Some(&realm), Some(&shown.app_id)).await;
            done(
                &format!("deleted app {}", shown.name),
                json!({"app_id": shown.app_id, "name": shown.name, "deleted": true}),
                json,
            );
        }
    }
    Ok(())
}
