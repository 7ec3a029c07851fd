//! PostgreSQL's errors, classified in one place by SQLSTATE.

use portcullis_core::store::StoreError;

use crate::errors::{non_database_error, unique_violation};

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unique,
    Unavailable,
    Other,
}

/// By SQLSTATE.
fn classify(sqlstate: &str) -> Class {
    match sqlstate {
        "23505" => Class::Unique,
        // connection_exception and its subclasses
        s if s.starts_with("08") => Class::Unavailable,
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" => Class::Unavailable,
        // out_of_memory, too_many_connections
        "53200" | "53300" => Class::Unavailable,
        // serialization_failure, deadlock_detected: the statement may succeed if retried
        "40001" | "40P01" => Class::Unavailable,
        // query_canceled (what `statement_timeout` raises: a lock held elsewhere or a
        // sick database) and lock_not_available (`lock_timeout`): nothing the client
        // did wrong, and nothing was written; a retry may well succeed (R11)
        "57014" | "55P03" => Class::Unavailable,
        _ => Class::Other,
    }
}

/// The one place where sqlx's PostgreSQL errors become `StoreError`s.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &e else {
        return non_database_error(e);
    };
    match classify(db.code().as_deref().unwrap_or("")) {
        Class::Unique => unique_violation(db.constraint().unwrap_or("an unnamed constraint")),
        Class::Unavailable => StoreError::Unavailable(db.to_string()),
        Class::Other => StoreError::Backend(db.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        assert_eq!(classify("23505"), Class::Unique);
        for code in ["08000", "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01", "57014", "55P03"] {
            assert_eq!(classify(code), Class::Unavailable, "{code}");
        }
        // foreign_key_violation, check_violation, syntax_error, invalid_password,
        // character_not_in_repertoire (a NUL in TEXT)
        for code in ["23503", "23514", "42601", "28P01", "22021", ""] {
            assert_eq!(classify(code), Class::Other, "{code}");
        }
    }
}
