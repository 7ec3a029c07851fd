//! Token rows as statement parameters of PostgreSQL: one array per column, in the
//! order of `token_columns!`, so that one statement writes any number of rows
//! (`UNNEST`), one round trip whatever their number.

use portcullis_core::model::TokenRecord;
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::{Arguments, Encode, Type};

use crate::rows::{SPACE, join};

/// Appends one parameter to `args`.
pub(crate) fn bind<'t, T: Encode<'t, Postgres> + Type<Postgres>>(args: &mut PgArguments, value: T) -> StoreResult<()> {
    args.add(value).map_err(|e| StoreError::Backend(format!("cannot encode a statement parameter: {e}")))
}

/// Appends the 15 column arrays of `rows` to `args`.
pub(crate) fn push(args: &mut PgArguments, rows: &[&TokenRecord]) -> StoreResult<()> {
    let bytes = |f: fn(&TokenRecord) -> Option<Vec<u8>>| rows.iter().map(|t| f(t)).collect::<Vec<_>>();
    let text = |f: fn(&TokenRecord) -> String| rows.iter().map(|t| f(t)).collect::<Vec<_>>();
    let int = |f: fn(&TokenRecord) -> Option<i64>| rows.iter().map(|t| f(t)).collect::<Vec<_>>();
    let permissions =
        rows.iter().map(|t| join(&t.permissions, SPACE, "permission")).collect::<StoreResult<Vec<_>>>()?;
    bind(args, rows.iter().map(|t| t.id.to_vec()).collect::<Vec<_>>())?;
    bind(args, text(|t| t.realm.clone()))?;
    bind(args, text(|t| t.kind.as_str().to_owned()))?;
    bind(args, bytes(|t| t.verifier_hash.map(|h| h.to_vec())))?;
    bind(args, text(|t| t.client_id.clone()))?;
    bind(args, text(|t| t.subject.clone()))?;
    bind(args, rows.iter().map(|t| t.username.clone()).collect::<Vec<_>>())?;
    bind(args, text(|t| t.scope.clone()))?;
    bind(args, bytes(|t| t.grant_id.map(|g| g.to_vec())))?;
    bind(args, permissions)?;
    bind(args, rows.iter().map(|t| t.test).collect::<Vec<_>>())?;
    bind(args, rows.iter().map(|t| t.issued_at).collect::<Vec<_>>())?;
    bind(args, int(|t| t.expires_at))?;
    bind(args, int(|t| t.revoked_at))?;
    bind(args, int(|t| t.used_at))
}
