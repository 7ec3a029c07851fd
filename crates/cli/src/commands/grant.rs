use clap::Subcommand;
use portcullis_core::admin::Admin;
use portcullis_core::audit::AuditRecord;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::store::Store;
use portcullis_core::token::{parse_token_id_hex, token_id_hex};
use serde_json::{Value, json};

use super::changes;
use crate::output::{done, print};

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// List grants (authorizations), newest first
    List {
        #[arg(long)]
        realm: String,
        /// Only this user's (id or username)
        #[arg(long)]
        user: Option<String>,
        /// Only this client's (id or name)
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a grant and every token derived from it
    Revoke {
        /// Grant id (32 hex digits)
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: GrantCommand) -> Result<(), String> {
    let clock = SystemClock;
    let admin = Admin::new(store.as_ref(), &clock);
    match command {
        GrantCommand::List { realm, user, client, json } => {
            let grants = admin.grants(&realm, user.as_deref(), client.as_deref()).await.map_err(|e| e.to_string())?;
            let rows = grants
                .iter()
                .map(|g| {
                    json!({
                        "id": token_id_hex(&g.id),
                        "client_id": g.client_id,
                        "subject": g.subject,
                        "username": g.username,
                        "scope": g.scope,
                        "created_at": g.created_at,
                        "revoked_at": g.revoked_at,
                    })
                })
                .collect();
            print(&Value::Array(rows), json);
        }
        GrantCommand::Revoke { id, json } => {
            admin.revoke_grant(&id).await.map_err(|e| e.to_string())?;
            // The command names the grant only: its realm, for the event, is the grant's.
            let grant = match parse_token_id_hex(&id) {
                Some(key) => store.get_grant(&key).await.ok().flatten(),
                None => None,
            };
            let realm = grant.as_ref().map(|g| g.realm.as_str());
            let target = grant.as_ref().map_or_else(|| id.clone(), |g| token_id_hex(&g.id));
            changes::record(store.as_ref(), "grant.revoke", realm, Some(&target)).await;
            // As the admin API records it: the change, and the revocation itself, which
            // is what a search for a grant's fate by kind finds.
            if let Some(g) = &grant {
                let at = SystemClock.now();
                changes::write(store.as_ref(), AuditRecord::grant_revoked(&g.realm, at, &g.client_id, &g.id, "admin"))
                    .await;
            }
            done(&format!("revoked grant {id}"), json!({"grant": id, "revoked": true}), json);
        }
    }
    Ok(())
}
