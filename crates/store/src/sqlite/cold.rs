//! The cold paths (`crate::cold`) on SQLite through sqlx.

crate::cold::cold_paths!(sqlx::Sqlite, super::errors::map_err);
crate::sealing::sealing_paths!(sqlx::Sqlite, super::errors::map_err);
