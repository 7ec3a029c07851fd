//! The cold paths (`crate::cold`) on PostgreSQL.

crate::cold::cold_paths!(sqlx::Postgres, super::errors::map_err);
crate::sealing::sealing_paths!(sqlx::Postgres, super::errors::map_err);
