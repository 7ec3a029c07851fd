//! SQLite: the audit log (`crate::audit`). A batch of events is one job of the hot
//! writer thread, committed with the token writes waiting beside it.

use portcullis_core::audit::{AuditQuery, AuditRecord};
use portcullis_core::store::{AuditStore, StoreResult};
use rusqlite::types::ToSql;
use std::sync::OnceLock;

use super::SqliteStore;
use super::errors::map_rusqlite as map_err;

mod paths {
    crate::audit::audit_paths!(sqlx::Sqlite, super::super::errors::map_err, crate::audit::PURGE_SQLITE);
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit_events(&self, events: &[AuditRecord]) -> StoreResult<()> {
        let events = events.to_vec();
        self.writer.write(move |conn| insert_all(conn, &events)).await
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        paths::list(&self.pools, query).await
    }

    async fn purge_audit_events(&self, before: i64, batch_size: u32) -> StoreResult<u64> {
        paths::purge(&self.pools, before, batch_size).await
    }
}

/// Rows per statement: a batch goes in chunks of these sizes, largest first, so three
/// statements are ever prepared for it. A statement of many rows costs SQLite one
/// statement's start, bindings and end instead of one per event.
const CHUNKS: [usize; 3] = [64, 8, 1];

fn insert_all(conn: &rusqlite::Connection, mut events: &[AuditRecord]) -> StoreResult<()> {
    static STATEMENTS: OnceLock<[String; CHUNKS.len()]> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| CHUNKS.map(crate::audit::insert_rows_sqlite));
    while !events.is_empty() {
        let (rows, sql) = CHUNKS.iter().zip(statements).find(|(rows, _)| **rows <= events.len()).expect("1 fits");
        let (chunk, rest) = events.split_at(*rows);
        insert_chunk(conn, sql, chunk)?;
        events = rest;
    }
    Ok(())
}

fn insert_chunk(conn: &rusqlite::Connection, sql: &str, chunk: &[AuditRecord]) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    for (row, e) in chunk.iter().enumerate() {
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
        for (column, value) in values.iter().enumerate() {
            statement.raw_bind_parameter(row * values.len() + column + 1, value).map_err(map_err)?;
        }
    }
    statement.raw_execute().map(drop).map_err(map_err)
}
