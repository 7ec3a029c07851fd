//! SQLite: admin tokens (`crate::admin_tokens`), on the cold pools.

crate::admin_tokens::admin_token_store!(super::SqliteStore, sqlx::Sqlite, super::errors::map_err);
