//! SQLite: the audit log (`crate::audit`). A batch of events is one job of the hot
//! writer thread, committed with the token writes waiting beside it.

use portcullis_core::audit::{AuditQuery, AuditRecord};
use portcullis_core::store::{AuditStore, StoreResult};
use rusqlite::types::ToSql;

use super::SqliteStore;
use super::statements::execute;

mod paths {
    crate::audit::audit_paths!(sqlx::Sqlite, super::super::errors::map_err);
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit_events(&self, events: &[AuditRecord]) -> StoreResult<()> {
        let events = events.to_vec();
        self.writer.write(move |conn| events.iter().try_for_each(|e| insert(conn, e))).await
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        paths::list(&self.pools, query).await
    }

    async fn purge_audit_events(&self, before: i64, batch_size: u32) -> StoreResult<u64> {
        paths::purge(&self.pools, before, batch_size).await
    }
}

fn insert(conn: &rusqlite::Connection, e: &AuditRecord) -> StoreResult<()> {
    let values: [&dyn ToSql; 13] = [
        &&e.id[..],
        &e.realm,
        &e.at,
        &e.kind.as_str(),
        &e.actor,
        &e.client_id,
        &e.subject,
        &e.grant_type,
        &e.action,
        &e.target,
        &e.address,
        &e.request_id,
        &e.detail,
    ];
    execute(conn, crate::audit::INSERT, values).map(drop)
}
