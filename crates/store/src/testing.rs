//! Fresh databases for tests (feature `testing`): the storage conformance suite and
//! the server's integration tests both run on PostgreSQL through this.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub const PG_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";

/// The PostgreSQL server tests run against. Unset: `None` with a note on stdout, or a
/// panic when `CI` is set, so CI never passes by skipping.
pub fn postgres_url(case: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is required in CI: set {PG_URL_VAR} (case {case})")
        }
        _ => {
            println!("{PG_URL_VAR} is unset: PostgreSQL case {case} skipped");
            None
        }
    }
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
