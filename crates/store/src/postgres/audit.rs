//! PostgreSQL: the audit log (`crate::audit`). A batch of events is one statement,
//! one array per column.

use portcullis_core::audit::{AuditQuery, AuditRecord};
use portcullis_core::store::{AuditStore, StoreResult};
use sqlx::postgres::PgArguments;

use super::PgStore;
use super::errors::map_err;
use super::token_arrays::bind;

mod paths {
    crate::audit::audit_paths!(sqlx::Postgres, super::super::errors::map_err, crate::audit::PURGE_PG);
}

#[async_trait::async_trait]
impl AuditStore for PgStore {
    async fn insert_audit_events(&self, events: &[AuditRecord]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut args = PgArguments::default();
        let text = |f: fn(&AuditRecord) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
        bind(&mut args, events.iter().map(|e| e.id.to_vec()).collect::<Vec<_>>())?;
        bind(&mut args, text(|e| e.realm.clone()))?;
        bind(&mut args, events.iter().map(|e| e.at).collect::<Vec<_>>())?;
        bind(&mut args, events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())?;
        bind(&mut args, text(|e| e.actor.clone()))?;
        bind(&mut args, text(|e| e.client_id.clone()))?;
        bind(&mut args, text(|e| e.subject.clone()))?;
        bind(&mut args, text(|e| e.grant_type.clone()))?;
        bind(&mut args, text(|e| e.action.clone()))?;
        bind(&mut args, text(|e| e.target.clone()))?;
        bind(&mut args, text(|e| e.address.clone()))?;
        bind(&mut args, text(|e| e.request_id.clone()))?;
        bind(&mut args, text(|e| e.detail.clone()))?;
        sqlx::query_with::<sqlx::Postgres, _>(crate::audit::INSERT_ARRAYS, args)
            .execute(&self.hot)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        paths::list(&self.pools, query).await
    }

    async fn purge_audit_events(&self, before: i64, batch_size: u32) -> StoreResult<u64> {
        paths::purge(&self.pools, before, batch_size).await
    }
}
