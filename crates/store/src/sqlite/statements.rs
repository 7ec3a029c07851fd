//! Running the shared SQL on rusqlite connections: placeholders, one-row queries, and
//! rows read by position.

use portcullis_core::model::{StoredToken, TokenRecord};
use portcullis_core::store::StoreResult;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, Statement};

use super::errors::map_rusqlite as map_err;
use crate::rows::{
    AuthorizationCodeRow, ClientRow, GrantRow, SPACE, SpentTokenRow, StoredTokenRow, TokenRow, UserRow, join,
};
use crate::sql;

/// Statements kept prepared per connection: the hot path uses a handful.
pub(super) const STATEMENT_CACHE: usize = 32;

/// The shared SQL numbers its placeholders `$1`, `$2`, … and does not always use
/// them in order (`SET revoked_at = $2 WHERE id = $1`); SQLite numbers named
/// parameters by first appearance, so they are bound by name.
const PLACEHOLDERS: [&str; 17] =
    ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16", "$17"];

/// Pairs each value with its placeholder name, on the stack (this is the hot path).
pub(super) fn named<const N: usize>(values: [&dyn ToSql; N]) -> [(&'static str, &dyn ToSql); N] {
    std::array::from_fn(|i| (PLACEHOLDERS[i], values[i]))
}

/// Whether `statement` numbers its placeholders `$1`..`$N` in order, each once (every
/// insert does), so that values can be bound by position. Binding by name looks each
/// name up among the statement's names (`sqlite3_bind_parameter_index`), per value: a
/// cost every insert of 13 to 15 values paid (bench/README.md, "Instructions per request").
fn numbered_in_order<const N: usize>(statement: &Statement<'_>) -> bool {
    statement.parameter_count() == N && (1..=N).all(|i| statement.parameter_name(i) == Some(PLACEHOLDERS[i - 1]))
}

pub(super) fn execute<const N: usize>(conn: &Connection, sql: &str, values: [&dyn ToSql; N]) -> StoreResult<usize> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    if numbered_in_order::<N>(&statement) {
        statement.execute(&values[..]).map_err(map_err)
    } else {
        statement.execute(&named(values)[..]).map_err(map_err)
    }
}

pub(super) fn query_optional<T, const N: usize>(
    conn: &Connection,
    sql: &str,
    values: [&dyn ToSql; N],
    row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    let found = if numbered_in_order::<N>(&statement) {
        statement.query_row(&values[..], row)
    } else {
        statement.query_row(&named(values)[..], row)
    };
    found.optional().map_err(map_err)
}

pub(super) fn insert_token(conn: &Connection, t: &TokenRecord) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(sql::TOKEN_INSERT).map_err(map_err)?;
    bind_token(&mut statement, 0, t)?;
    statement.raw_execute().map(drop).map_err(map_err)
}

/// Values per token row, in `sql::TOKEN_COLUMNS` order.
pub(super) const TOKEN_VALUES: usize = 15;

/// Binds `t`'s values, in `sql::TOKEN_COLUMNS` order, to the parameters after the first
/// `before` (a multi-row insert binds row n after n rows' values).
pub(super) fn bind_token(statement: &mut Statement<'_>, before: usize, t: &TokenRecord) -> StoreResult<()> {
    let permissions = join(&t.permissions, SPACE, "permission")?;
    let values: [&dyn ToSql; TOKEN_VALUES] = [
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
    for (i, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(before + i + 1, value).map_err(map_err)?;
    }
    Ok(())
}

pub(super) fn client_revision_of(conn: &Connection, realm: &str, client_id: &str) -> StoreResult<Option<i64>> {
    query_optional(conn, sql::CLIENT_REVISION, [&realm, &client_id], |r| r.get(0))
}

pub(super) fn stored_token(conn: &Connection, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
    query_optional(conn, sql::TOKEN_GET, [&&id[..]], |r| stored_token_row(&mut Columns::new(r)))?
        .map(StoredToken::try_from)
        .transpose()
}

/// Reads a row's columns in the order of its SELECT list. By position, because
/// rusqlite finds a column by name with a scan of all the names (a strlen and a
/// comparison each): for a 21-column token row that was a quarter of the lookup's time.
/// Debug builds (every test) check each name against the statement's.
pub(super) struct Columns<'r, 's> {
    row: &'r Row<'s>,
    next: usize,
}

impl<'r, 's> Columns<'r, 's> {
    pub(super) fn new(row: &'r Row<'s>) -> Self {
        Self { row, next: 0 }
    }

    pub(super) fn get<T: rusqlite::types::FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        let index = self.next;
        self.next += 1;
        debug_assert_eq!(self.row.as_ref().column_name(index).ok(), Some(name), "column {index} of the SELECT");
        self.row.get(index)
    }
}

pub(super) fn stored_token_row(c: &mut Columns<'_, '_>) -> rusqlite::Result<StoredTokenRow> {
    Ok(StoredTokenRow {
        token: token_row(c)?,
        client_disabled: c.get("client_disabled")?,
        grant_revoked: c.get("grant_revoked")?,
        grant_teams: c.get("grant_teams")?,
        user_roles: c.get("user_roles")?,
        user_disabled: c.get("user_disabled")?,
        user_kind: c.get("user_kind")?,
    })
}

pub(super) fn token_row(c: &mut Columns<'_, '_>) -> rusqlite::Result<TokenRow> {
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

pub(super) fn client_row(r: &Row<'_>) -> rusqlite::Result<ClientRow> {
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

pub(super) fn code_row(r: &Row<'_>) -> rusqlite::Result<AuthorizationCodeRow> {
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

pub(super) fn grant_row(r: &Row<'_>) -> rusqlite::Result<GrantRow> {
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

pub(super) fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
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

pub(super) fn spent_row(r: &Row<'_>) -> rusqlite::Result<SpentTokenRow> {
    let mut c = Columns::new(r);
    Ok(SpentTokenRow {
        used_at: c.get("used_at")?,
        revoked_at: c.get("revoked_at")?,
        grant_id: c.get("grant_id")?,
        grant_revoked: c.get("grant_revoked")?,
    })
}
