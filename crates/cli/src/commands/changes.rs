//! The CLI's one audit hook: every command that changed something calls [`record`]
//! (or [`record_change`], for an update with the object before and after) once,
//! after the change succeeded, as the admin API does (`routes::admin::audit`), with
//! the same action names.
//!
//! The event is written at once with `AuditStore::insert_audit_events`, not through
//! the batching `AuditLog`: a command is a short-lived process with one event, and a
//! background writer would only add a flush to every exit path. A write that fails
//! is a warning on stderr and the command still succeeds: the change is already
//! committed, and failing it would tell the operator it did not happen.

use portcullis_core::audit::AuditRecord;
use portcullis_core::clock::{Clock, SystemClock};
use portcullis_core::store::Store;
use serde_json::Value;

pub async fn record(store: &dyn Store, action: &str, realm: Option<&str>, target: Option<&str>) {
    write(store, event(action, realm, target, None)).await;
}

/// With `detail`, facts of the change that are neither object (never a secret).
pub async fn record_detail(store: &dyn Store, action: &str, realm: Option<&str>, target: Option<&str>, detail: Value) {
    write(store, event(action, realm, target, None).detail(detail)).await;
}

/// `before` and `after` are the command's own JSON views of the object, which never
/// hold a secret (no secret hash, password hash or key).
pub async fn record_change(
    store: &dyn Store,
    action: &str,
    realm: Option<&str>,
    target: Option<&str>,
    before: Value,
    after: Value,
) {
    write(store, event(action, realm, target, Some((before, after)))).await;
}

fn event(action: &str, realm: Option<&str>, target: Option<&str>, change: Option<(Value, Value)>) -> AuditRecord {
    AuditRecord::admin_change(realm, SystemClock.now(), actor(), action, target, change)
}

/// `cli:` and the operating-system user, the only name a command run directly on the
/// database has (it holds no admin token).
fn actor() -> String {
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
    format!("cli:{}", user.as_deref().unwrap_or("unknown"))
}

/// Writes `event` as it is, for the events a command records beyond its change.
pub async fn write(store: &dyn Store, event: AuditRecord) {
    let action = event.action.clone().unwrap_or_default();
    if let Err(e) = store.insert_audit_events(&[event]).await {
        eprintln!("warning: the change was made but its audit event ({action}) was not recorded: {e}");
    }
}
