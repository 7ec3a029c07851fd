//! SQLite's errors, from sqlx (cold paths) and rusqlite (hot paths), classified in one
//! place by SQLite's extended result code.

use portcullis_core::store::StoreError;

use crate::errors::{non_database_error, unique_violation};

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unique,
    Unavailable,
    Other,
}

// SQLite result codes; the extended ones carry the primary one in their low byte.
pub(super) const BUSY: i32 = 5;
const LOCKED: i32 = 6;
const IOERR: i32 = 10;
const CANTOPEN: i32 = 14;
const PROTOCOL: i32 = 15;
const CONSTRAINT_PRIMARYKEY: i32 = 1555;
const CONSTRAINT_UNIQUE: i32 = 2067;

/// By SQLite extended result code.
fn classify(code: i32) -> Class {
    match code {
        CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE => Class::Unique,
        _ => match code & 0xff {
            BUSY | LOCKED | IOERR | CANTOPEN | PROTOCOL => Class::Unavailable,
            _ => Class::Other,
        },
    }
}

/// The one place where sqlx's SQLite errors become `StoreError`s.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &e else {
        return non_database_error(e);
    };
    let code = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
    match classify(code) {
        Class::Unique => {
            let msg = db.message();
            unique_violation(msg.strip_prefix("UNIQUE constraint failed: ").unwrap_or(msg))
        }
        Class::Unavailable => StoreError::Unavailable(db.to_string()),
        Class::Other => StoreError::Backend(db.to_string()),
    }
}

/// The one place where rusqlite's errors become `StoreError`s, classified like sqlx's
/// (`map_err`) by SQLite's extended result code.
pub(crate) fn map_rusqlite(e: rusqlite::Error) -> StoreError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_are_classified() {
        assert_eq!(classify(1555), Class::Unique);
        assert_eq!(classify(2067), Class::Unique);
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_READ,
        // SQLITE_CANTOPEN.
        for code in [5, 517, 6, 266, 14] {
            assert_eq!(classify(code), Class::Unavailable, "{code}");
        }
        // SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_CONSTRAINT_CHECK, SQLITE_ERROR.
        for code in [787, 275, 1] {
            assert_eq!(classify(code), Class::Other, "{code}");
        }
    }
}
