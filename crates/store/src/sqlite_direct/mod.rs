//! The SQLite hot path without sqlx's per-statement thread hand-offs: the token,
//! client and code reads run synchronously on the caller's thread ([`readers`]), and the
//! token writes run as jobs of one writer thread that commits them in groups
//! ([`writer`]). Everything else (administration, sign-in, migrations) stays on sqlx;
//! both use the same SQL (`crate::sql`) and the same row conversions (`crate::rows`).
//!
//! Why not sqlx here: sqlx-sqlite runs each statement on the connection's worker
//! thread. Profiled with the server on one core, the context switches of those
//! hand-offs were ~40% of its CPU for client_credentials and introspection, and a
//! refresh rotation (five statements in a transaction) spent more than half its time in
//! the SQLite worker threads, while SQLite itself was ~3%.

mod readers;
mod writer;

use std::path::PathBuf;
use std::time::Duration;

use portcullis_core::model::{AuthorizationCode, Client, Grant, StoredToken, TokenRecord, User};
use portcullis_core::store::{CodeRedemption, Rotation, StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::rows::{
    AuthorizationCodeRow, ClientRow, GrantRow, SPACE, SpentTokenRow, StoredTokenRow, TokenRow, UserRow, join,
};
use crate::shared::unique_violation;
use crate::sql;
use crate::sqlite::{Class, classify};
use readers::Readers;
use writer::Writer;

pub(crate) struct DirectSqlite {
    readers: Readers,
    writer: Writer,
}

impl DirectSqlite {
    /// Opens the hot-path connections to the (already migrated, WAL) file at `path`.
    pub(crate) fn open(
        path: PathBuf,
        busy_timeout: Duration,
        readers: usize,
        linger: Duration,
        synchronous: crate::SqliteSynchronous,
        queue: usize,
    ) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&path, flags).map_err(map_err)?;
        conn.busy_timeout(busy_timeout).map_err(map_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(map_err)?;
        // As on sqlx's writer (see `SqliteSynchronous`).
        conn.pragma_update(None, "synchronous", synchronous.pragma()).map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Self { readers: Readers::new(path, busy_timeout, readers)?, writer: Writer::spawn(conn, linger, queue)? })
    }

    /// `Err` once the writer thread has ended: every hot write would fail.
    pub(crate) fn check_writer(&self) -> StoreResult<()> {
        self.writer.check_running()
    }

    #[cfg(feature = "testing")]
    pub(crate) fn writer(&self) -> &Writer {
        &self.writer
    }

    pub(crate) fn get_client(&self, realm: &str, client_id: &str) -> StoreResult<Option<Client>> {
        self.readers.read(|conn| {
            query_optional(conn, sql::CLIENT_GET, [&realm, &client_id], client_row)?.map(Client::try_from).transpose()
        })
    }

    pub(crate) fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
        self.readers.read(|conn| stored_token(conn, id))
    }

    pub(crate) fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>> {
        self.readers.read(|conn| {
            query_optional(conn, sql::CODE_GET, [&&id[..]], code_row)?.map(AuthorizationCode::try_from).transpose()
        })
    }

    pub(crate) fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>> {
        self.readers
            .read(|conn| query_optional(conn, sql::GRANT_GET, [&&id[..]], grant_row)?.map(Grant::try_from).transpose())
    }

    pub(crate) fn get_user(&self, realm: &str, id: &str) -> StoreResult<Option<User>> {
        self.readers
            .read(|conn| query_optional(conn, sql::USER_GET, [&realm, &id], user_row)?.map(User::try_from).transpose())
    }

    pub(crate) async fn insert_tokens(&self, tokens: Vec<TokenRecord>) -> StoreResult<()> {
        let one = tokens.len() == 1;
        let work = move |conn: &Connection| tokens.iter().try_for_each(|t| insert_token(conn, t));
        if one { self.writer.write_one_statement(work).await } else { self.writer.write(work).await }
    }

    pub(crate) async fn insert_token_if_client_at(
        &self,
        token: TokenRecord,
        client_revision: i64,
    ) -> StoreResult<bool> {
        self.writer
            .write_one_statement(move |conn| {
                if client_revision_of(conn, &token.realm, &token.client_id)? != Some(client_revision) {
                    return Ok(false);
                }
                insert_token(conn, &token)?;
                Ok(true)
            })
            .await
    }

    /// One statement (one snapshot) when the token exists.
    pub(crate) fn get_token_and_client_revision(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
    ) -> StoreResult<(Option<StoredToken>, Option<i64>)> {
        self.readers.read(|conn| {
            let row = query_optional(conn, sql::TOKEN_GET_WITH_CLIENT_REVISION, [&&id[..], &realm, &client_id], |r| {
                let mut c = Columns::new(r);
                let revision = c.get::<Option<i64>>("client_revision")?;
                Ok((stored_token_row(&mut c)?, revision))
            })?;
            match row {
                Some((token, revision)) => Ok((Some(token.try_into()?), revision)),
                None => Ok((None, client_revision_of(conn, realm, client_id)?)),
            }
        })
    }

    pub(crate) async fn revoke_token(&self, id: [u8; 16], now: i64) -> StoreResult<bool> {
        self.writer.write_one_statement(move |conn| Ok(execute(conn, sql::TOKEN_REVOKE, [&&id[..], &now])? > 0)).await
    }

    pub(crate) async fn redeem_code(
        &self,
        id: [u8; 16],
        now: i64,
        tokens: Vec<TokenRecord>,
    ) -> StoreResult<CodeRedemption> {
        self.writer
            .write(move |conn| {
                if let Some(row) = query_optional(conn, sql::CODE_REDEEM, [&&id[..], &now], code_row)? {
                    tokens.iter().try_for_each(|t| insert_token(conn, t))?;
                    return Ok(CodeRedemption::Redeemed(row.try_into()?));
                }
                let Some(row) = query_optional(conn, sql::CODE_GET, [&&id[..]], code_row)? else {
                    return Ok(CodeRedemption::Unknown);
                };
                let code = AuthorizationCode::try_from(row)?;
                execute(conn, sql::GRANT_REVOKE, [&&code.grant_id[..], &now])?;
                Ok(CodeRedemption::Replayed(code))
            })
            .await
    }

    pub(crate) async fn rotate_refresh_token(
        &self,
        old: [u8; 16],
        now: i64,
        grace_since: Option<i64>,
        new_tokens: Vec<TokenRecord>,
    ) -> StoreResult<Rotation> {
        self.writer
            .write(move |conn| {
                let outcome = if execute(conn, sql::TOKEN_SPEND, [&&old[..], &now])? > 0 {
                    Rotation::Rotated
                } else {
                    // A missing token is a reuse too: nothing to revoke, nothing stored.
                    let state = query_optional(conn, sql::TOKEN_SPENT, [&&old[..]], spent_row)?;
                    if SpentTokenRow::within_grace(state.as_ref(), grace_since) {
                        Rotation::WithinGrace
                    } else {
                        if let Some(grant_id) = state.and_then(|s| s.grant_id) {
                            execute(conn, sql::GRANT_REVOKE, [&grant_id, &now])?;
                        }
                        Rotation::Reused
                    }
                };
                if outcome != Rotation::Reused {
                    new_tokens.iter().try_for_each(|t| insert_token(conn, t))?;
                }
                Ok(outcome)
            })
            .await
    }
}

/// The shared SQL numbers its placeholders `$1`, `$2`, … and does not always use
/// them in order (`SET revoked_at = $2 WHERE id = $1`); SQLite numbers named
/// parameters by first appearance, so they are bound by name.
const PLACEHOLDERS: [&str; 16] =
    ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16"];

/// Pairs each value with its placeholder name, on the stack (this is the hot path).
fn named<const N: usize>(values: [&dyn ToSql; N]) -> [(&'static str, &dyn ToSql); N] {
    std::array::from_fn(|i| (PLACEHOLDERS[i], values[i]))
}

fn execute<const N: usize>(conn: &Connection, sql: &str, values: [&dyn ToSql; N]) -> StoreResult<usize> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    statement.execute(&named(values)[..]).map_err(map_err)
}

fn query_optional<T, const N: usize>(
    conn: &Connection,
    sql: &str,
    values: [&dyn ToSql; N],
    row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    statement.query_row(&named(values)[..], row).optional().map_err(map_err)
}

fn insert_token(conn: &Connection, t: &TokenRecord) -> StoreResult<()> {
    let permissions = join(&t.permissions, SPACE, "permission")?;
    let values: [&dyn ToSql; 15] = [
        &&t.id[..],
        &t.realm,
        &t.kind.as_str(),
        &t.verifier_hash.as_ref().map(|h| &h[..]),
        &t.client_id,
        &t.subject,
        &t.username,
        &t.scope,
        &t.grant_id.as_ref().map(|g| &g[..]),
        &permissions,
        &t.test,
        &t.issued_at,
        &t.expires_at,
        &t.revoked_at,
        &t.used_at,
    ];
    execute(conn, sql::TOKEN_INSERT, values).map(drop)
}

fn client_revision_of(conn: &Connection, realm: &str, client_id: &str) -> StoreResult<Option<i64>> {
    query_optional(conn, sql::CLIENT_REVISION, [&realm, &client_id], |r| r.get(0))
}

fn stored_token(conn: &Connection, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
    query_optional(conn, sql::TOKEN_GET, [&&id[..]], |r| stored_token_row(&mut Columns::new(r)))?
        .map(StoredToken::try_from)
        .transpose()
}

/// Reads a row's columns in the order of its SELECT list. By position, because
/// rusqlite finds a column by name with a scan of all the names (a strlen and a
/// comparison each): for a 21-column token row that was a quarter of the lookup's time.
/// Debug builds (every test) check each name against the statement's.
struct Columns<'r, 's> {
    row: &'r Row<'s>,
    next: usize,
}

impl<'r, 's> Columns<'r, 's> {
    fn new(row: &'r Row<'s>) -> Self {
        Self { row, next: 0 }
    }

    fn get<T: rusqlite::types::FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        let index = self.next;
        self.next += 1;
        debug_assert_eq!(self.row.as_ref().column_name(index).ok(), Some(name), "column {index} of the SELECT");
        self.row.get(index)
    }
}

fn stored_token_row(c: &mut Columns<'_, '_>) -> rusqlite::Result<StoredTokenRow> {
    Ok(StoredTokenRow {
        token: token_row(c)?,
        client_disabled: c.get("client_disabled")?,
        grant_revoked: c.get("grant_revoked")?,
        user_roles: c.get("user_roles")?,
        user_disabled: c.get("user_disabled")?,
        user_kind: c.get("user_kind")?,
    })
}

fn token_row(c: &mut Columns<'_, '_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: c.get("id")?,
        realm: c.get("realm")?,
        kind: c.get("kind")?,
        verifier_hash: c.get("verifier_hash")?,
        client_id: c.get("client_id")?,
        subject: c.get("subject")?,
        username: c.get("username")?,
        scope: c.get("scope")?,
        grant_id: c.get("grant_id")?,
        permissions: c.get("permissions")?,
        test: c.get("test")?,
        issued_at: c.get("issued_at")?,
        expires_at: c.get("expires_at")?,
        revoked_at: c.get("revoked_at")?,
        used_at: c.get("used_at")?,
    })
}

fn client_row(r: &Row<'_>) -> rusqlite::Result<ClientRow> {
    let mut c = Columns::new(r);
    Ok(ClientRow {
        realm: c.get("realm")?,
        client_id: c.get("client_id")?,
        name: c.get("name")?,
        secret_hash: c.get("secret_hash")?,
        auth_method: c.get("auth_method")?,
        grant_types: c.get("grant_types")?,
        redirect_uris: c.get("redirect_uris")?,
        scopes: c.get("scopes")?,
        default_scopes: c.get("default_scopes")?,
        access_ttl: c.get("access_ttl")?,
        refresh_ttl: c.get("refresh_ttl")?,
        resource_server: c.get("resource_server")?,
        disabled: c.get("disabled")?,
        created_at: c.get("created_at")?,
        updated_at: c.get("updated_at")?,
        revision: c.get("revision")?,
    })
}

fn code_row(r: &Row<'_>) -> rusqlite::Result<AuthorizationCodeRow> {
    let mut c = Columns::new(r);
    Ok(AuthorizationCodeRow {
        id: c.get("id")?,
        verifier_hash: c.get("verifier_hash")?,
        realm: c.get("realm")?,
        client_id: c.get("client_id")?,
        grant_id: c.get("grant_id")?,
        redirect_uri: c.get("redirect_uri")?,
        redirect_uri_given: c.get("redirect_uri_given")?,
        code_challenge: c.get("code_challenge")?,
        code_challenge_method: c.get("code_challenge_method")?,
        issued_at: c.get("issued_at")?,
        expires_at: c.get("expires_at")?,
        used_at: c.get("used_at")?,
    })
}

fn grant_row(r: &Row<'_>) -> rusqlite::Result<GrantRow> {
    let mut c = Columns::new(r);
    Ok(GrantRow {
        id: c.get("id")?,
        realm: c.get("realm")?,
        client_id: c.get("client_id")?,
        subject: c.get("subject")?,
        username: c.get("username")?,
        scope: c.get("scope")?,
        teams: c.get("teams")?,
        permissions: c.get("permissions")?,
        test: c.get("test")?,
        created_at: c.get("created_at")?,
        revoked_at: c.get("revoked_at")?,
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    let mut c = Columns::new(r);
    Ok(UserRow {
        realm: c.get("realm")?,
        id: c.get("id")?,
        username: c.get("username")?,
        password_hash: c.get("password_hash")?,
        roles: c.get("roles")?,
        teams: c.get("teams")?,
        kind: c.get("kind")?,
        disabled: c.get("disabled")?,
        created_at: c.get("created_at")?,
        updated_at: c.get("updated_at")?,
    })
}

fn spent_row(r: &Row<'_>) -> rusqlite::Result<SpentTokenRow> {
    let mut c = Columns::new(r);
    Ok(SpentTokenRow {
        used_at: c.get("used_at")?,
        revoked_at: c.get("revoked_at")?,
        grant_id: c.get("grant_id")?,
        grant_revoked: c.get("grant_revoked")?,
    })
}

/// The one place where rusqlite's errors become `StoreError`s, classified like sqlx's
/// (`crate::sqlite::map_err`) by SQLite's extended result code.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    let rusqlite::Error::SqliteFailure(failure, message) = &e else {
        return StoreError::Backend(e.to_string());
    };
    match classify(failure.extended_code) {
        Class::Unique => {
            let msg = message.as_deref().unwrap_or_default();
            unique_violation(msg.strip_prefix("UNIQUE constraint failed: ").unwrap_or(msg))
        }
        Class::Unavailable => StoreError::Unavailable(e.to_string()),
        Class::Other => StoreError::Backend(e.to_string()),
    }
}
