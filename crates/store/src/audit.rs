//! The audit log's rows on both databases: the SQL, the row, and the listing and purge
//! written once against sqlx (macro `audit_paths!`, expanded in each wing's
//! `audit.rs`). Inserts differ: SQLite's batch is one job of the hot writer thread
//! (so it shares that thread's group commit instead of contending for the write
//! lock), PostgreSQL's one `INSERT … SELECT FROM UNNEST` statement.

use portcullis_core::audit::{AuditKind, AuditRecord};
use portcullis_core::store::{StoreError, StoreResult};

use crate::rows::bytes;

macro_rules! audit_columns {
    () => {
        "id, realm, at, kind, actor, client_id, subject, grant_type, action, target, address, request_id, detail"
    };
}

/// SQLite: `rows` events in one statement, bound by position, 13 values per row.
pub(crate) fn insert_rows_sqlite(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    format!("INSERT INTO audit_events ({}) VALUES {}", audit_columns!(), vec![row; rows].join(", "))
}
/// PostgreSQL: a whole batch, one array per column.
pub(crate) const INSERT_ARRAYS: &str = concat!(
    "INSERT INTO audit_events (",
    audit_columns!(),
    ") SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], ",
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])"
);
/// `$2`: from this time on; `$3`: after this id (an empty blob sorts before every id).
pub(crate) const LIST: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_events WHERE realm = $1 AND at >= $2 AND id > $3 ORDER BY id LIMIT $4"
);
pub(crate) const LIST_KIND: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_events WHERE realm = $1 AND at >= $2 AND id > $3 AND kind = $5 ORDER BY id LIMIT $4"
);
/// The server's events (no realm), numbered as `LIST` without `$1`: PostgreSQL
/// refuses a parameter no statement uses. `realm IS NULL` is a range of the same
/// indexes on both databases, where `realm = $1 OR …` would be a scan.
pub(crate) const LIST_SERVER: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_events WHERE realm IS NULL AND at >= $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const LIST_SERVER_KIND: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_events WHERE realm IS NULL AND at >= $1 AND id > $2 AND kind = $4 ORDER BY id LIMIT $3"
);
/// The oldest first, one batch at a time (an index range scan on `at`); each database's
/// form is [`crate::sql::purge_sql`]'s.
pub(crate) const PURGE_SQLITE: &str = crate::sql::purge_sql!(sqlite, "audit_events", "id", "id", "at", "");
pub(crate) const PURGE_PG: &str = crate::sql::purge_sql!(postgres, "audit_events", "id", "id", "at", "");

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: Vec<u8>,
    realm: Option<String>,
    at: i64,
    kind: String,
    actor: Option<String>,
    client_id: Option<String>,
    subject: Option<String>,
    grant_type: Option<String>,
    action: Option<String>,
    target: Option<String>,
    address: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> StoreResult<Self> {
        Ok(AuditRecord {
            id: bytes(r.id, "audit_events.id")?,
            at: r.at,
            realm: r.realm,
            kind: r.kind.parse::<AuditKind>().map_err(StoreError::Backend)?,
            actor: r.actor,
            client_id: r.client_id,
            subject: r.subject,
            grant_type: r.grant_type,
            action: r.action,
            target: r.target,
            address: r.address,
            request_id: r.request_id,
            detail: r.detail,
        })
    }
}

/// Expands `list` and `purge` over the wing's `Pools<$db>`, with `$map_err` as the
/// wing's error mapping and `$purge` its purge statement.
macro_rules! audit_paths {
    ($db:ty, $map_err:path, $purge:path) => {
        use portcullis_core::audit::{AuditQuery, AuditRecord};
        use portcullis_core::store::StoreResult;

        use $crate::audit::{AuditRow, LIST, LIST_KIND, LIST_SERVER, LIST_SERVER_KIND};
        use $crate::cold::Pools;

        pub(crate) async fn list(pools: &Pools<$db>, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
            let after = q.after.map_or_else(Vec::new, |a| a.to_vec());
            let sql = match (&q.realm, q.kind) {
                (Some(_), Some(_)) => LIST_KIND,
                (Some(_), None) => LIST,
                (None, Some(_)) => LIST_SERVER_KIND,
                (None, None) => LIST_SERVER,
            };
            let mut query = sqlx::query_as::<$db, AuditRow>(sql);
            if let Some(realm) = &q.realm {
                query = query.bind(realm);
            }
            query = query.bind(q.since.unwrap_or(i64::MIN)).bind(after).bind(i64::from(q.limit));
            if let Some(kind) = q.kind {
                query = query.bind(kind.as_str());
            }
            query.fetch_all(&pools.read).await.map_err($map_err)?.into_iter().map(AuditRecord::try_from).collect()
        }

        pub(crate) async fn purge(pools: &Pools<$db>, before: i64, batch_size: u32) -> StoreResult<u64> {
            let done = sqlx::query::<$db>($purge)
                .bind(before)
                .bind(i64::from(batch_size))
                .execute(&pools.write)
                .await
                .map_err($map_err)?;
            Ok(done.rows_affected())
        }
    };
}

pub(crate) use audit_paths;
