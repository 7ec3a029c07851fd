//! The statements [`super::group_commit`] runs for a batch of concurrent calls: each
//! answers every job of the batch in one round trip, in the order of the jobs.

use portcullis_core::model::{AuthorizationCode, Client, Grant, SigningKeyRecord, StoredToken, TokenRecord, User};
use portcullis_core::org::{Permission, StoredApiKey};
use portcullis_core::store::{StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::{FromRow, Row};

use super::errors::map_err;
use super::group_commit::PendingToken;
use super::token_arrays::{self, bind};
use crate::orgs_rows::{PermissionRow, StoredApiKeyRow};
use crate::rows::{AuthorizationCodeRow, ClientRow, GrantRow, SigningKeyRow, StoredTokenRow, UserRow};
use crate::{orgs_sql, sql};

/// Every statement the hot connections run (`super::BATCH_PLANNING`), by name: for
/// the test that reads their plans.
#[cfg(feature = "testing")]
pub(crate) const STATEMENTS: &[(&str, &str)] = &[
    ("token insert", sql::TOKEN_INSERT_MANY_PG),
    ("token revocation", sql::TOKEN_REVOKE_MANY_PG),
    ("token read", sql::TOKEN_GET_MANY_PG),
    ("token epoch", sql::TOKEN_EPOCH),
    ("refresh rotation", sql::TOKEN_ROTATE_MANY_PG),
    ("code redemption", sql::CODE_REDEEM_MANY_PG),
    ("grant read", sql::GRANT_GET_MANY_PG),
    ("code read", sql::CODE_GET_MANY_PG),
    ("client read", sql::CLIENT_GET_MANY_PG),
    ("signing key read", sql::KEY_LIST_VERIFYING_MANY_PG),
    ("user read", sql::USER_GET_MANY_PG),
    ("api key read", orgs_sql::API_KEY_GET_MANY_PG),
    ("permission list", orgs_sql::PERMISSION_LIST_MANY_PG),
    ("audit insert", crate::audit::INSERT_ARRAYS),
];

/// A token to read and, for `get_token_and_client_revision`, the realm and id of the
/// client whose current revision is read with it.
pub(crate) type TokenLookup = ([u8; 16], Option<(String, String)>);
/// What a lookup found: the token, the client's revision if one was asked for, and
/// the token epoch of the same snapshot (`crate::hot_tokens`).
pub(crate) type FoundToken = (Option<StoredToken>, Option<i64>, Option<i64>);

/// Inserts `rows` with one statement (and so atomically, without a transaction
/// around it). A row whose client is no longer at its expected revision is left
/// out, and reported so.
pub(crate) async fn insert(pool: &PgPool, rows: Vec<PendingToken>) -> StoreResult<Vec<bool>> {
    let mut args = PgArguments::default();
    token_arrays::push(&mut args, &rows.iter().map(|(t, _)| t).collect::<Vec<_>>())?;
    bind(&mut args, rows.iter().map(|(_, expected)| *expected).collect::<Vec<_>>())?;
    let written: Vec<Vec<u8>> =
        sqlx::query_scalar_with(sql::TOKEN_INSERT_MANY_PG, args).fetch_all(pool).await.map_err(map_err)?;
    Ok(rows.iter().map(|(t, _)| written.iter().any(|id| id[..] == t.id[..])).collect())
}

/// Revokes the tokens `(id, now)` with one statement. Of several jobs naming one
/// token, only the first is told it revoked it, as if they had run one after the
/// other.
pub(crate) async fn revoke(pool: &PgPool, jobs: Vec<([u8; 16], i64)>) -> StoreResult<Vec<bool>> {
    let mut args = PgArguments::default();
    bind(&mut args, jobs.iter().map(|(id, _)| id.to_vec()).collect::<Vec<_>>())?;
    bind(&mut args, jobs.iter().map(|(_, now)| *now).collect::<Vec<_>>())?;
    let mut revoked: Vec<Vec<u8>> =
        sqlx::query_scalar_with(sql::TOKEN_REVOKE_MANY_PG, args).fetch_all(pool).await.map_err(batch_err)?;
    Ok(jobs
        .iter()
        .map(|(id, _)| match revoked.iter().position(|r| r[..] == id[..]) {
            Some(at) => {
                revoked.swap_remove(at);
                true
            }
            None => false,
        })
        .collect())
}

/// Reads the tokens (and client revisions) of `jobs` with one statement, so in one
/// snapshot, taken after every job was queued: a revocation answered before a
/// caller asked is seen.
pub(crate) async fn read(pool: &PgPool, jobs: Vec<TokenLookup>) -> StoreResult<Vec<FoundToken>> {
    let mut args = PgArguments::default();
    bind(&mut args, jobs.iter().map(|(id, _)| id.to_vec()).collect::<Vec<_>>())?;
    bind(&mut args, jobs.iter().map(|(_, c)| c.as_ref().map(|(realm, _)| realm.as_str())).collect::<Vec<_>>())?;
    bind(&mut args, jobs.iter().map(|(_, c)| c.as_ref().map(|(_, client)| client.as_str())).collect::<Vec<_>>())?;
    let rows = sqlx::query_with(sql::TOKEN_GET_MANY_PG, args).fetch_all(pool).await.map_err(map_err)?;
    let mut found: Vec<FoundToken> = (0..jobs.len()).map(|_| (None, None, None)).collect();
    for row in rows {
        let n: i64 = row.try_get("n").map_err(map_err)?;
        let slot = usize::try_from(n - 1).ok().and_then(|i| found.get_mut(i));
        let Some(slot) = slot else { continue };
        *slot = (
            stored_token(&row)?,
            row.try_get("client_revision").map_err(map_err)?,
            row.try_get("token_epoch").map_err(map_err)?,
        );
    }
    Ok(found)
}

/// The token epoch, once for a batch of callers: one snapshot taken after every one
/// of them asked, so a change committed before any of them asked is counted.
pub(crate) async fn epoch(pool: &PgPool, jobs: Vec<()>) -> StoreResult<Vec<Option<i64>>> {
    let epoch: Option<i64> = sqlx::query_scalar(sql::TOKEN_EPOCH).fetch_optional(pool).await.map_err(map_err)?;
    Ok(vec![epoch; jobs.len()])
}

/// The token of a row of `TOKEN_GET_MANY_PG`, if it named one.
fn stored_token(row: &PgRow) -> StoreResult<Option<StoredToken>> {
    let id: Option<Vec<u8>> = row.try_get("id").map_err(map_err)?;
    if id.is_none() {
        return Ok(None);
    }
    StoredTokenRow::from_row(row).map_err(map_err)?.try_into().map(Some)
}

/// A rotation: the refresh token to spend, when, and the tokens it issues.
pub(crate) type RotationJob = ([u8; 16], i64, Vec<TokenRecord>);
/// A redemption: the code to mark used, when, and the tokens it issues.
pub(crate) type RedemptionJob = ([u8; 16], i64, Vec<TokenRecord>);

/// The jobs (a refresh token or code each, when, and the tokens it issues) as the
/// parameters of `TOKEN_ROTATE_MANY_PG` / `CODE_REDEEM_MANY_PG`. Only the first job
/// naming a token or code takes part: the statement could not tell the others
/// apart, and they are answered as losers, which sends them to the slow path that
/// reads what the first one did.
fn spend_args(jobs: &[([u8; 16], i64, Vec<TokenRecord>)]) -> StoreResult<(PgArguments, Vec<bool>)> {
    let first: Vec<bool> =
        jobs.iter().enumerate().map(|(i, (id, ..))| !jobs[..i].iter().any(|(o, ..)| o == id)).collect();
    let taking = || jobs.iter().zip(&first).filter(|(_, f)| **f).map(|(j, _)| j);
    let mut args = PgArguments::default();
    bind(&mut args, taking().map(|(id, ..)| id.to_vec()).collect::<Vec<_>>())?;
    bind(&mut args, taking().map(|(_, now, _)| *now).collect::<Vec<_>>())?;
    let tokens: Vec<&TokenRecord> = taking().flat_map(|(.., tokens)| tokens).collect();
    token_arrays::push(&mut args, &tokens)?;
    bind(&mut args, taking().flat_map(|(id, _, tokens)| tokens.iter().map(|_| id.to_vec())).collect::<Vec<_>>())?;
    Ok((args, first))
}

/// Rotations with one statement: whether each spent its token (and stored its new
/// ones).
pub(crate) async fn rotate(pool: &PgPool, jobs: Vec<RotationJob>) -> StoreResult<Vec<bool>> {
    let (args, first) = spend_args(&jobs)?;
    let spent: Vec<Vec<u8>> =
        sqlx::query_scalar_with(sql::TOKEN_ROTATE_MANY_PG, args).fetch_all(pool).await.map_err(batch_err)?;
    Ok(jobs.iter().zip(first).map(|((id, ..), first)| first && spent.iter().any(|s| s[..] == id[..])).collect())
}

/// Redemptions with one statement: the code each redeemed (its tokens then stored),
/// or `None`: used or unknown, nothing written.
pub(crate) async fn redeem(pool: &PgPool, jobs: Vec<RedemptionJob>) -> StoreResult<Vec<Option<AuthorizationCode>>> {
    let (args, first) = spend_args(&jobs)?;
    let rows: Vec<AuthorizationCodeRow> =
        sqlx::query_as_with(sql::CODE_REDEEM_MANY_PG, args).fetch_all(pool).await.map_err(batch_err)?;
    let mut codes = rows.into_iter().map(AuthorizationCode::try_from).collect::<StoreResult<Vec<_>>>()?;
    Ok(jobs
        .iter()
        .zip(first)
        .map(|((id, ..), first)| {
            let at = codes.iter().position(|c| c.id == *id).filter(|_| first)?;
            Some(codes.swap_remove(at))
        })
        .collect())
}

/// A batch writing rows other instances may write at once can deadlock with theirs
/// (each locks its rows in its own order): that is this batch's failure, not the
/// database's, so it is reported as one that the jobs, run one by one, may not meet.
fn batch_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01") => StoreError::Backend(db.to_string()),
        _ => map_err(e),
    }
}

/// Rows of a point-read batch statement (`*_GET_MANY_PG`) put back in the order of
/// the `len` keys asked for: `None` where nothing was found.
async fn keyed<R, T>(
    pool: &PgPool,
    statement: &'static str,
    args: PgArguments,
    len: usize,
) -> StoreResult<Vec<Option<T>>>
where
    R: for<'r> FromRow<'r, PgRow>,
    T: TryFrom<R, Error = StoreError>,
{
    let rows = sqlx::query_with(statement, args).fetch_all(pool).await.map_err(map_err)?;
    let mut found: Vec<Option<T>> = (0..len).map(|_| None).collect();
    for row in rows {
        let n: i64 = row.try_get("n").map_err(map_err)?;
        if let Some(slot) = usize::try_from(n - 1).ok().and_then(|i| found.get_mut(i)) {
            *slot = Some(R::from_row(&row).map_err(map_err)?.try_into()?);
        }
    }
    Ok(found)
}

pub(crate) async fn grants(pool: &PgPool, ids: Vec<[u8; 16]>) -> StoreResult<Vec<Option<Grant>>> {
    let mut args = PgArguments::default();
    bind(&mut args, ids.iter().map(|id| id.to_vec()).collect::<Vec<_>>())?;
    keyed::<GrantRow, _>(pool, sql::GRANT_GET_MANY_PG, args, ids.len()).await
}

pub(crate) async fn api_keys(pool: &PgPool, ids: Vec<[u8; 16]>) -> StoreResult<Vec<Option<StoredApiKey>>> {
    let mut args = PgArguments::default();
    bind(&mut args, ids.iter().map(|id| id.to_vec()).collect::<Vec<_>>())?;
    keyed::<StoredApiKeyRow, _>(pool, orgs_sql::API_KEY_GET_MANY_PG, args, ids.len()).await
}

pub(crate) async fn codes(pool: &PgPool, ids: Vec<[u8; 16]>) -> StoreResult<Vec<Option<AuthorizationCode>>> {
    let mut args = PgArguments::default();
    bind(&mut args, ids.iter().map(|id| id.to_vec()).collect::<Vec<_>>())?;
    keyed::<AuthorizationCodeRow, _>(pool, sql::CODE_GET_MANY_PG, args, ids.len()).await
}

/// Every row of a listing batch statement (the rows of all the batch's realms, each
/// caller then taking its own), mapped.
async fn listing<R, T>(pool: &PgPool, statement: &'static str, args: PgArguments) -> StoreResult<Vec<T>>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
{
    let rows = sqlx::query_as_with::<_, R, _>(statement, args).fetch_all(pool).await.map_err(map_err)?;
    rows.into_iter().map(T::try_from).collect()
}

/// The permissions of each job's realm, in bit order, with one statement that names
/// each realm once (a batch is mostly one realm's callers).
pub(crate) async fn permissions(pool: &PgPool, realms: Vec<String>) -> StoreResult<Vec<Vec<Permission>>> {
    let mut distinct: Vec<&str> = realms.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut args = PgArguments::default();
    bind(&mut args, distinct)?;
    let listed: Vec<Permission> = listing::<PermissionRow, _>(pool, orgs_sql::PERMISSION_LIST_MANY_PG, args).await?;
    Ok(realms.iter().map(|realm| listed.iter().filter(|p| &p.realm == realm).cloned().collect()).collect())
}

/// A realm whose verifying keys are read, and the instant they must verify at.
pub(crate) type KeyListing = (String, i64);

/// The verifying keys of each job's realm at its instant, newest first, with one
/// statement; their private parts still sealed (`crate::sealing::open_key`).
pub(crate) async fn verifying_keys(pool: &PgPool, jobs: Vec<KeyListing>) -> StoreResult<Vec<Vec<SigningKeyRecord>>> {
    let earliest = jobs.iter().map(|(_, now)| *now).min().unwrap_or_default();
    let mut args = PgArguments::default();
    bind(&mut args, jobs.iter().map(|(realm, _)| realm.as_str()).collect::<Vec<_>>())?;
    bind(&mut args, earliest)?;
    let keys: Vec<SigningKeyRecord> = listing::<SigningKeyRow, _>(pool, sql::KEY_LIST_VERIFYING_MANY_PG, args).await?;
    Ok(jobs
        .iter()
        .map(|(realm, now)| {
            keys.iter().filter(|k| &k.realm == realm && k.verify_until.is_none_or(|t| t > *now)).cloned().collect()
        })
        .collect())
}

/// A realm and an id in it.
pub(crate) type RealmKey = (String, String);

fn realm_keys(keys: &[RealmKey]) -> StoreResult<PgArguments> {
    let mut args = PgArguments::default();
    bind(&mut args, keys.iter().map(|(realm, _)| realm.as_str()).collect::<Vec<_>>())?;
    bind(&mut args, keys.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>())?;
    Ok(args)
}

pub(crate) async fn clients(pool: &PgPool, keys: Vec<RealmKey>) -> StoreResult<Vec<Option<Client>>> {
    keyed::<ClientRow, _>(pool, sql::CLIENT_GET_MANY_PG, realm_keys(&keys)?, keys.len()).await
}

pub(crate) async fn users(pool: &PgPool, keys: Vec<RealmKey>) -> StoreResult<Vec<Option<User>>> {
    keyed::<UserRow, _>(pool, sql::USER_GET_MANY_PG, realm_keys(&keys)?, keys.len()).await
}
