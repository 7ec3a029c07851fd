//! The audit hook: every change made through the admin API is reported here, once,
//! after it succeeded. For now the record is a structured tracing event with target
//! `audit`; the reliability issue's audit log replaces the body of
//! [`TracingAudit::record`] (or adds an [`AuditSink`] that stores records), and no
//! caller changes.

use async_trait::async_trait;

/// One administrative change: who made it, what it was, where, and in which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent<'a> {
    /// The admin token's id (32 hex digits).
    pub actor: &'a str,
    /// What was done, `resource.verb` (e.g. `client.create`, `grant.revoke`).
    pub action: &'a str,
    /// The realm it was done in; `None` for server-wide objects.
    pub realm: Option<&'a str>,
    /// The object acted on (a client id, a user id, a grant id, a realm name).
    pub target: Option<&'a str>,
    /// The `x-request-id` of the HTTP request.
    pub request_id: Option<&'a str>,
    /// Unix seconds.
    pub at: i64,
}

#[async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Records one change. It has already happened: a failure here is logged, never
    /// turned into an error for the caller.
    async fn record(&self, event: &AuditEvent<'_>);
}

/// The audit hook of today: one `audit` tracing event per change.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAudit;

#[async_trait]
impl AuditSink for TracingAudit {
    async fn record(&self, e: &AuditEvent<'_>) {
        tracing::info!(
            target: "audit",
            actor = e.actor,
            action = e.action,
            realm = e.realm,
            target_id = e.target,
            request_id = e.request_id,
            at = e.at,
            "admin change"
        );
    }
}
