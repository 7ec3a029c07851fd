//! The admin API's one audit hook: every handler that changed something calls
//! [`record`] (or [`record_update`], with the object before and after)
//! once, after the change succeeded. The event goes to the audit log
//! (`portcullis_core::audit`) and to one `audit` tracing line.

use portcullis_core::audit::AuditRecord;
use serde_json::Value;

use super::extract::Caller;
use crate::AppState;

pub async fn record(state: &AppState, caller: &Caller, action: &str, realm: Option<&str>, target: Option<&str>) {
    record_change(state, caller, action, realm, target, None).await;
}

/// `change` is the object `(before, after)` as the admin API shows it, which never
/// holds a secret (the views carry no secret hash, password hash or key).
async fn record_change(
    state: &AppState,
    caller: &Caller,
    action: &str,
    realm: Option<&str>,
    target: Option<&str>,
    change: Option<(Value, Value)>,
) {
    let actor = caller.token.id_hex();
    let now = state.authority.clock.now();
    tracing::info!(
        target: "audit",
        actor,
        action,
        realm,
        target_id = target,
        request_id = caller.request_id.as_deref(),
        at = now,
        "admin change"
    );
    let mut e = AuditRecord::admin_change(realm, now, actor, action, target, change);
    if e.request_id.is_none() {
        e.request_id = caller.request_id.clone();
    }
    state.authority.audit(e).await;
}

/// [`record_change`] of an update, with the object as the admin API showed it before
/// and shows it after.
pub async fn record_update<T: serde::Serialize>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    realm: Option<&str>,
    target: Option<&str>,
    (before, after): (&T, &T),
) {
    record_change(state, caller, action, realm, target, Some((snapshot(before), snapshot(after)))).await;
}

/// A view as JSON, for [`record_change`].
fn snapshot<T: serde::Serialize>(view: &T) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}
