use clap::Subcommand;
use portcullis_core::admin::Admin;
use portcullis_core::audit::{AuditKind, AuditQuery, parse_since};
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::store::Store;
use portcullis_core::token::{parse_token_id_hex, token_id_hex};
use serde_json::{Value, json};

use crate::output::print;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List a realm's audit events (--realm) or the server's (--server), oldest first
    List {
        /// This realm's events
        #[arg(long, conflicts_with = "server")]
        realm: Option<String>,
        /// The server's events, those of no realm (admin tokens for every realm,
        /// public-url set, keys rewrap)
        #[arg(long)]
        server: bool,
        /// Events at or after this time: Unix seconds, or an age (30m, 24h, 7d)
        #[arg(long)]
        since: Option<String>,
        /// Only events of this kind (token.issued, token.revoked, grant.revoked,
        /// refresh.reused, sign_in.succeeded, sign_in.failed, sign_in.locked,
        /// client_auth.failed, admin.change)
        #[arg(long)]
        kind: Option<String>,
        /// Only events after this one (an event id: the last of the previous listing)
        #[arg(long)]
        after: Option<String>,
        /// At most this many events (1 to 100000)
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &std::sync::Arc<dyn Store>, command: AuditCommand) -> Result<(), String> {
    let clock = SystemClock;
    match command {
        AuditCommand::List { realm, server, since, kind, after, limit, json } => {
            if realm.is_none() && !server {
                return Err("say whose events to list: --realm REALM, or --server for the events of no realm".into());
            }
            if !(1..=100_000).contains(&limit) {
                return Err(format!("--limit must be 1 to 100000, got {limit}"));
            }
            let since = since.map(|s| parse_since(&s, clock.now())).transpose().map_err(|e| format!("--since: {e}"))?;
            let kind = kind.map(|k| k.parse::<AuditKind>()).transpose().map_err(|e| format!("--kind: {e}"))?;
            let after = after
                .map(|a| {
                    parse_token_id_hex(&a).ok_or_else(|| format!("--after: '{a}' is not an event id (32 hex digits)"))
                })
                .transpose()?;
            if let Some(realm) = &realm {
                Admin::new(store.as_ref(), &clock).realm(realm).await.map_err(|e| e.to_string())?;
            }
            let query = AuditQuery { realm, since, kind, after, limit };
            let events = store.list_audit_events(&query).await.map_err(|e| e.to_string())?;
            let rows = events
                .iter()
                .map(|e| {
                    json!({
                        "id": token_id_hex(&e.id),
                        "at": e.at,
                        "kind": e.kind.as_str(),
                        "realm": e.realm,
                        "actor": e.actor,
                        "client_id": e.client_id,
                        "subject": e.subject,
                        "grant_type": e.grant_type,
                        "action": e.action,
                        "target": e.target,
                        "address": e.address,
                        "request_id": e.request_id,
                        "detail": e.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
                    })
                })
                .collect();
            print(&Value::Array(rows), json);
        }
    }
    Ok(())
}
