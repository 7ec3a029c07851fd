//! PostgreSQL: admin tokens (`crate::admin_tokens`).

crate::admin_tokens::admin_token_store!(super::PgStore, sqlx::Postgres, super::errors::map_err);
