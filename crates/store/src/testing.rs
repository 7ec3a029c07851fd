//! Fresh databases for tests (feature `testing`): the storage conformance suite and
//! the server's integration tests both run on PostgreSQL through this.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

mod integrity;
pub use integrity::half_written_rows;

pub const PG_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";
/// Set to `1` to run the suite without PostgreSQL: its cases are then skipped, each
/// with a note. Without it a missing PostgreSQL fails every case that needs it.
pub const SKIP_PG_VAR: &str = "PORTCULLIS_TEST_SKIP_POSTGRES";

/// The PostgreSQL server tests run against. Unset: a panic naming the variable, unless
/// the caller opted out with `PORTCULLIS_TEST_SKIP_POSTGRES=1` (then `None`), so a
/// missing database never passes as a green run.
pub fn postgres_url(case: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if opted_out(SKIP_PG_VAR) => {
            println!("{SKIP_PG_VAR}=1: PostgreSQL case {case} skipped");
            None
        }
        _ => panic!(
            "PostgreSQL is required (case {case}): set {PG_URL_VAR}=postgres://USER@HOST:PORT/DB, \
             or {SKIP_PG_VAR}=1 to skip the PostgreSQL cases"
        ),
    }
}

/// Whether the opt-out variable `var` is set to `1`.
pub fn opted_out(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// The token epoch of the database at `url` (`hot_tokens`; SQLite or PostgreSQL).
pub async fn token_epoch(url: &str) -> i64 {
    if url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(crate::sql::TOKEN_EPOCH).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(crate::sql::TOKEN_EPOCH).fetch_one(&mut conn).await.unwrap()
    }
}

/// The number of rows of every table of the database at `url` (SQLite or
/// PostgreSQL), migrations' bookkeeping excluded: snapshot before and after a request
/// to show that it wrote nothing. The audit log is excluded too: recording a refused
/// request (a wrong secret, a failed sign-in) is the one write a refusal makes, by
/// design, and it is written later, in the audit writer's batch.
pub async fn row_counts(url: &str) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    if url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE '_sqlx_%' AND name <> 'audit_events'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for t in tables {
            // Table names come from the schema, never from input.
            let q = format!("SELECT COUNT(*) FROM \"{t}\"");
            counts.insert(t, sqlx::query_scalar(AssertSqlSafe(q)).fetch_one(&mut conn).await.unwrap());
        }
    } else {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_sqlx\\_%' \
             AND table_name <> 'audit_events'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for t in tables {
            let q = format!("SELECT COUNT(*) FROM \"{t}\"");
            counts.insert(t, sqlx::query_scalar(AssertSqlSafe(q)).fetch_one(&mut conn).await.unwrap());
        }
    }
    counts
}

/// PostgreSQL's purge statements as `(table, sql)`, the audit log's included: for the
/// test that reads their plans.
pub fn postgres_purge_statements() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = crate::sql::PURGES_PG.iter().map(|p| (p.table, p.sql)).collect();
    all.push(("audit_events", crate::audit::PURGE_PG));
    all
}

/// A name and its text: a statement, or a setting and its value.
pub type Named = (&'static str, &'static str);

/// PostgreSQL's batch statements of the hot paths as `(name, sql)`, and the settings
/// their connections are planned under: for the test that reads their plans.
pub fn postgres_batch_statements() -> (&'static [Named], &'static [Named]) {
    (crate::postgres::batches::STATEMENTS, crate::postgres::BATCH_PLANNING)
}

/// A database created for one test on the server at `PORTCULLIS_TEST_POSTGRES_URL`.
pub struct TestDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl TestDatabase {
    pub async fn create(case: &str) -> Option<Self> {
        let server = postgres_url(case)?;
        let name = format!(
            "portcullis_t_{}",
            portcullis_core::secret::random_bytes::<12>().iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| panic!("connect to {PG_URL_VAR}: {e}"));
        // The name is ours (hex only), never input.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        Some(Self { url: with_database(&server, &name), server, name })
    }

    /// Drops the database; FORCE because a test's pool may still be closing.
    pub async fn drop_database(self) {
        let mut admin = PgConnection::connect(&self.server).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name)))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

/// Tables `fill_expired` grows and `count_rows` counts.
pub const FILLED_TABLES: [&str; 4] = ["tokens", "sessions", "authorization_requests", "sign_in_failures"];

/// Inserts `per_table` rows into each of `FILLED_TABLES`, all expired at `expired_at`
/// (sign-in counters: their window began then), with one statement per table, so
/// that tests can grow a database past 100,000 rows in seconds.
pub async fn fill_expired(url: &str, realm: &str, client_id: &str, per_table: i64, expired_at: i64) {
    macro_rules! fill {
        ($conn:ty, $statements:expr) => {{
            let mut conn = <$conn>::connect(url).await.unwrap();
            for sql in $statements {
                sqlx::query(sql)
                    .bind(per_table)
                    .bind(realm)
                    .bind(client_id)
                    .bind(expired_at)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }};
    }
    if url.starts_with("sqlite:") { fill!(SqliteConnection, FILL_SQLITE) } else { fill!(PgConnection, FILL_PG) }
}

/// The rows in `table`, one of `FILLED_TABLES`.
pub async fn count_rows(url: &str, table: &str) -> i64 {
    assert!(FILLED_TABLES.contains(&table), "not a table tests count: {table}");
    let sql = AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
    if url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

// `$1` rows, realm `$2`, client `$3`, expired at `$4`.
const FILL_SQLITE: [&str; 4] = [
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     INSERT INTO tokens (id, realm, kind, client_id, subject, scope, permissions, test, issued_at, expires_at) \
     SELECT randomblob(16), $2, 'access', $3, $3, '', '', 0, $4 - 3600, $4 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     INSERT INTO sessions (id_hash, realm, created_at, expires_at) SELECT randomblob(32), $2, $4 - 3600, $4 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     INSERT INTO authorization_requests (id, realm, session_hash, client_id, redirect_uri, redirect_uri_given, \
     response_type, response_mode, scope, state, csrf_hash, created_at, expires_at, client_addr) \
     SELECT randomblob(16), $2, randomblob(32), $3, 'https://app.example/cb', 0, 'code', 'query', '', \
     hex(randomblob(512)), randomblob(32), $4 - 600, $4, '192.0.2.1' FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     INSERT INTO sign_in_failures (realm, account, address, failures, window_start) \
     SELECT $2, 'bulk:' || hex(randomblob(8)) || i, '192.0.2.1', 1, $4 FROM n",
];

const FILL_PG: [&str; 4] = [
    "INSERT INTO tokens (id, realm, kind, client_id, subject, scope, permissions, test, issued_at, expires_at) \
     SELECT decode(md5(random()::text || i::text), 'hex'), $2, 'access', $3, $3, '', '', false, \
     $4::int8 - 3600, $4::int8 FROM generate_series(1, $1::int8) AS i",
    "INSERT INTO sessions (id_hash, realm, created_at, expires_at) \
     SELECT decode(md5(random()::text || i::text) || md5(i::text), 'hex'), $2, $4::int8 - 3600, $4::int8 \
     FROM generate_series(1, $1::int8) AS i",
    "INSERT INTO authorization_requests (id, realm, session_hash, client_id, redirect_uri, redirect_uri_given, \
     response_type, response_mode, scope, state, csrf_hash, created_at, expires_at, client_addr) \
     SELECT decode(md5(random()::text || i::text), 'hex'), $2, decode(md5(i::text) || md5(random()::text), 'hex'), \
     $3, 'https://app.example/cb', false, 'code', 'query', '', repeat(md5(i::text), 32), \
     decode(md5(i::text) || md5(i::text), 'hex'), $4::int8 - 600, $4::int8, '192.0.2.1' \
     FROM generate_series(1, $1::int8) AS i",
    "INSERT INTO sign_in_failures (realm, account, address, failures, window_start) \
     SELECT $2, 'bulk:' || md5(random()::text) || i, '192.0.2.1', 1, $4::int8 FROM generate_series(1, $1::int8) AS i",
];

/// `url` with its database replaced by `db`, query string kept.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority..].find('/') {
        Some(i) => &head[..authority + i],
        None => head,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://u:p@h/test?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
    }
}
