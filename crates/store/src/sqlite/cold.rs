//! The cold paths (`crate::cold`) on SQLite through sqlx.

crate::cold::cold_paths!(sqlx::Sqlite, super::errors::map_err);
