//! The parts of error mapping both databases share: what a unique violation tells the
//! caller, and the sqlx errors that are not the database's answer to a statement. Each
//! wing classifies its own database's error codes (`sqlite/errors.rs`,
//! `postgres/errors.rs`).

use portcullis_core::store::StoreError;

/// Unique constraints, by PostgreSQL constraint name and by the column list SQLite
/// names in "UNIQUE constraint failed: ...", with what the caller is told.
const UNIQUE_KEYS: &[(&str, &str, &str)] = &[
    ("realms_pkey", "realms.name", "a realm with this name already exists"),
    ("signing_keys_pkey", "signing_keys.kid", "a signing key with this kid already exists"),
    ("clients_pkey", "clients.realm, clients.client_id", "the realm already has a client with this client_id"),
    ("clients_realm_name_key", "clients.realm, clients.name", "the realm already has a client with this name"),
    ("tokens_pkey", "tokens.id", "a token with this id already exists"),
    ("settings_pkey", "settings.name", "this setting already exists"),
    ("users_pkey", "users.realm, users.id", "the realm already has a user with this id"),
    ("users_username_key", "users.realm, users.username_key", "the realm already has a user with this username"),
    ("grants_pkey", "grants.id", "a grant with this id already exists"),
    ("authorization_codes_pkey", "authorization_codes.id", "an authorization code with this id already exists"),
    ("sessions_pkey", "sessions.id_hash", "a session with this id already exists"),
    (
        "authorization_requests_pkey",
        "authorization_requests.id",
        "an authorization request with this id already exists",
    ),
    ("apps_pkey", "apps.realm, apps.app_id", "the realm already has an app with this id"),
    ("api_keys_pkey", "api_keys.id", "an API key with this id already exists"),
    ("permissions_pkey", "permissions.realm, permissions.name", "the realm already has a permission with this name"),
    ("permissions_bit_key", "permissions.realm, permissions.bit", "another permission took this bit first; retry"),
    (
        "role_permissions_pkey",
        "role_permissions.realm, role_permissions.role, role_permissions.permission",
        "the role already has this permission",
    ),
    ("customer_grants_pkey", "customer_grants.grant_id", "this grant is already linked to an API key"),
    // Both written by upserts, so not expected; listed so that the message is a good one.
    (
        "consents_pkey",
        "consents.realm, consents.user_id, consents.client_id",
        "the user already has a consent for this client",
    ),
    (
        "sign_in_failures_pkey",
        "sign_in_failures.realm, sign_in_failures.account, sign_in_failures.address",
        "this sign-in failure counter already exists",
    ),
];

/// `key` is a PostgreSQL constraint name or SQLite's column list.
pub(crate) fn unique_violation(key: &str) -> StoreError {
    let known = UNIQUE_KEYS.iter().find(|(pg, lite, _)| *pg == key || *lite == key);
    StoreError::Conflict(match known {
        Some((_, _, what)) => (*what).to_owned(),
        None => format!("duplicate value for {key}"),
    })
}

/// The errors that are not the database's answer to a statement: the same for both
/// backends. `Error::Database` is the caller's to classify.
pub(crate) fn non_database_error(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// A migration that failed on a database error is mapped like any statement (the
/// database may just be unreachable); one whose history does not match this build is
/// not something a retry fixes.
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError, map: impl Fn(sqlx::Error) -> StoreError) -> StoreError {
    use sqlx::migrate::MigrateError as M;
    match e {
        M::Execute(e) => with_context(map(e), "while running migrations"),
        M::ExecuteMigration(e, v) => with_context(map(e), &format!("while running migration {v}")),
        other => StoreError::Backend(format!("migrations: {other}")),
    }
}

/// Prefixes the message of `e` with `ctx`, keeping its kind.
pub(crate) fn with_context(e: StoreError, ctx: &str) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(m) => StoreError::Conflict(format!("{ctx}: {m}")),
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{ctx}: {m}")),
        StoreError::Backend(m) => StoreError::Backend(format!("{ctx}: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_what_clashed_on_both_backends() {
        for key in ["clients_realm_name_key", "clients.realm, clients.name"] {
            assert!(matches!(unique_violation(key), StoreError::Conflict(m) if m.contains("name")));
        }
        assert!(matches!(unique_violation("realms_pkey"), StoreError::Conflict(m) if m.contains("realm")));
        for key in ["users_username_key", "users.realm, users.username_key"] {
            assert!(matches!(unique_violation(key), StoreError::Conflict(m) if m.contains("username")));
        }
        assert!(matches!(unique_violation("odd_key"), StoreError::Conflict(m) if m.contains("odd_key")));
    }

    #[test]
    fn pool_and_io_errors_are_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for e in
            [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed, sqlx::Error::WorkerCrashed, sqlx::Error::Io(refused)]
        {
            assert!(matches!(non_database_error(e), StoreError::Unavailable(_)));
        }
    }

    #[test]
    fn other_errors_are_backend() {
        for e in
            [sqlx::Error::RowNotFound, sqlx::Error::ColumnNotFound("x".into()), sqlx::Error::Protocol("garbage".into())]
        {
            assert!(matches!(non_database_error(e), StoreError::Backend(_)));
        }
    }
}
