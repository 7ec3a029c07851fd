//! The admin API's one audit hook: every handler that changed something calls
//! [`record`] once, after the change succeeded. Its body is the place the audit log
//! (the reliability issue) plugs in; the handlers do not change then.

use portcullis_core::audit::{AuditEvent, AuditSink, TracingAudit};

use super::extract::Caller;
use crate::AppState;

pub async fn record(state: &AppState, caller: &Caller, action: &str, realm: Option<&str>, target: Option<&str>) {
    let actor = caller.token.id_hex();
    let event = AuditEvent {
        actor: &actor,
        action,
        realm,
        target,
        request_id: caller.request_id.as_deref(),
        at: state.authority.clock.now(),
    };
    TracingAudit.record(&event).await;
}
