//! What both backends share: the `Store` implementation itself (as a macro, because
//! sqlx's generic bounds over `Database` would have to be restated on every function)
//! and the parts of error mapping that do not depend on the backend.

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

/// Implements `Store` for `$store`, whose inherent methods `reader()`, `writer()`
/// (each a `&Pool<$db>`) and `begin()` (a transaction on the writer) choose where each
/// statement runs; `$map_err` is the backend's error mapping.
macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal, $map_err:path) => {
        mod store_impl {
            use portcullis_core::model::{Client, Realm, SigningKeyRecord, StoredToken, TokenRecord};
            use portcullis_core::store::{Store, StoreError, StoreResult};
            use sqlx::Database;

            use super::*;
            use $crate::rows::{ClientLists, ClientRow, RealmRow, SigningKeyRow, StoredTokenRow};
            use $crate::sql;

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as Database>::Arguments>;

            fn query(sql: &'static str) -> Query<'static> {
                sqlx::query::<$db>(sql)
            }

            fn bind_realm<'q>(q: Query<'q>, r: &Realm) -> Query<'q> {
                q.bind(&r.name)
                    .bind(r.access_ttl)
                    .bind(r.refresh_ttl)
                    .bind(r.token_format.as_str())
                    .bind(r.signing_alg.as_str())
                    .bind(r.created_at)
                    .bind(r.updated_at)
            }

            fn bind_key<'q>(q: Query<'q>, k: &SigningKeyRecord) -> Query<'q> {
                q.bind(&k.kid)
                    .bind(&k.realm)
                    .bind(k.alg.as_str())
                    .bind(&k.private_pem)
                    .bind(k.created_at)
                    .bind(k.retired_at)
                    .bind(k.verify_until)
            }

            fn bind_client<'q>(q: Query<'q>, c: &Client) -> StoreResult<Query<'q>> {
                let lists = ClientLists::of(c)?;
                Ok(q.bind(&c.realm)
                    .bind(&c.client_id)
                    .bind(&c.name)
                    .bind(c.secret_hash.as_deref())
                    .bind(c.auth_method.as_str())
                    .bind(lists.grant_types)
                    .bind(lists.redirect_uris)
                    .bind(lists.scopes)
                    .bind(lists.default_scopes)
                    .bind(c.access_ttl)
                    .bind(c.refresh_ttl)
                    .bind(c.resource_server)
                    .bind(c.disabled)
                    .bind(c.created_at)
                    .bind(c.updated_at))
            }

            fn bind_token<'q>(q: Query<'q>, t: &TokenRecord) -> StoreResult<Query<'q>> {
                let permissions = $crate::rows::join(&t.permissions, $crate::rows::SPACE, "permission")?;
                Ok(q.bind(&t.id[..])
                    .bind(&t.realm)
                    .bind(t.kind.as_str())
                    .bind(t.verifier_hash.as_ref().map(|h| &h[..]))
                    .bind(&t.client_id)
                    .bind(&t.subject)
                    .bind(t.username.as_deref())
                    .bind(&t.scope)
                    .bind(t.grant_id.as_ref().map(|g| &g[..]))
                    .bind(permissions)
                    .bind(t.test)
                    .bind(t.issued_at)
                    .bind(t.expires_at)
                    .bind(t.revoked_at))
            }

            fn found(rows_affected: u64) -> StoreResult<()> {
                if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
            }

            #[async_trait::async_trait]
            impl Store for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                async fn ping(&self) -> StoreResult<()> {
                    query(sql::PING).execute(self.reader()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn pepper(&self, candidate: &[u8]) -> StoreResult<Vec<u8>> {
                    let pool = self.writer();
                    query(sql::PEPPER_INSERT).bind(candidate).execute(pool).await.map_err($map_err)?;
                    sqlx::query_scalar::<$db, Vec<u8>>(sql::PEPPER_SELECT).fetch_one(pool).await.map_err($map_err)
                }

                async fn create_realm(&self, realm: &Realm, key: &SigningKeyRecord) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    bind_realm(query(sql::REALM_INSERT), realm).execute(&mut *tx).await.map_err($map_err)?;
                    bind_key(query(sql::KEY_INSERT), key).execute(&mut *tx).await.map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn get_realm(&self, name: &str) -> StoreResult<Option<Realm>> {
                    sqlx::query_as::<$db, RealmRow>(sql::REALM_GET)
                        .bind(name)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(Realm::try_from)
                        .transpose()
                }

                async fn list_realms(&self) -> StoreResult<Vec<Realm>> {
                    sqlx::query_as::<$db, RealmRow>(sql::REALM_LIST)
                        .fetch_all(self.reader())
                        .await
                        .map_err($map_err)?
                        .into_iter()
                        .map(Realm::try_from)
                        .collect()
                }

                async fn update_realm(&self, realm: &Realm) -> StoreResult<()> {
                    let done =
                        bind_realm(query(sql::REALM_UPDATE), realm).execute(self.writer()).await.map_err($map_err)?;
                    found(done.rows_affected())
                }

                async fn delete_realm(&self, name: &str) -> StoreResult<()> {
                    let done = query(sql::REALM_DELETE).bind(name).execute(self.writer()).await.map_err($map_err)?;
                    found(done.rows_affected())
                }

                async fn signing_keys(&self, realm: &str, now: i64) -> StoreResult<Vec<SigningKeyRecord>> {
                    sqlx::query_as::<$db, SigningKeyRow>(sql::KEY_LIST_VERIFYING)
                        .bind(realm)
                        .bind(now)
                        .fetch_all(self.reader())
                        .await
                        .map_err($map_err)?
                        .into_iter()
                        .map(SigningKeyRecord::try_from)
                        .collect()
                }

                async fn rotate_signing_key(
                    &self,
                    new_key: &SigningKeyRecord,
                    now: i64,
                    verify_until: i64,
                ) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let locked =
                        query(sql::REALM_LOCK).bind(&new_key.realm).execute(&mut *tx).await.map_err($map_err)?;
                    found(locked.rows_affected())?;
                    query(sql::KEY_RETIRE_ALL)
                        .bind(&new_key.realm)
                        .bind(now)
                        .bind(verify_until)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    bind_key(query(sql::KEY_INSERT), new_key).execute(&mut *tx).await.map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn create_client(&self, client: &Client) -> StoreResult<()> {
                    bind_client(query(sql::CLIENT_INSERT), client)?.execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn get_client(&self, realm: &str, client_id: &str) -> StoreResult<Option<Client>> {
                    sqlx::query_as::<$db, ClientRow>(sql::CLIENT_GET)
                        .bind(realm)
                        .bind(client_id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(Client::try_from)
                        .transpose()
                }

                async fn find_client(&self, realm: &str, id_or_name: &str) -> StoreResult<Option<Client>> {
                    sqlx::query_as::<$db, ClientRow>(sql::CLIENT_FIND)
                        .bind(realm)
                        .bind(id_or_name)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(Client::try_from)
                        .transpose()
                }

                async fn list_clients(&self, realm: &str) -> StoreResult<Vec<Client>> {
                    sqlx::query_as::<$db, ClientRow>(sql::CLIENT_LIST)
                        .bind(realm)
                        .fetch_all(self.reader())
                        .await
                        .map_err($map_err)?
                        .into_iter()
                        .map(Client::try_from)
                        .collect()
                }

                async fn update_client(&self, client: &Client) -> StoreResult<()> {
                    let done = bind_client(query(sql::CLIENT_UPDATE), client)?
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    found(done.rows_affected())
                }

                async fn delete_client(&self, realm: &str, client_id: &str) -> StoreResult<()> {
                    let done = query(sql::CLIENT_DELETE)
                        .bind(realm)
                        .bind(client_id)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    found(done.rows_affected())
                }

                async fn rotate_client_secret(
                    &self,
                    realm: &str,
                    client_id: &str,
                    secret_hash: &[u8],
                    revoke_tokens_at: Option<i64>,
                ) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let done = query(sql::CLIENT_SET_SECRET)
                        .bind(realm)
                        .bind(client_id)
                        .bind(secret_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    found(done.rows_affected())?;
                    if let Some(at) = revoke_tokens_at {
                        query(sql::CLIENT_REVOKE_TOKENS)
                            .bind(realm)
                            .bind(client_id)
                            .bind(at)
                            .execute(&mut *tx)
                            .await
                            .map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()> {
                    bind_token(query(sql::TOKEN_INSERT), token)?.execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
                    sqlx::query_as::<$db, StoredTokenRow>(sql::TOKEN_GET)
                        .bind(&id[..])
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(StoredToken::try_from)
                        .transpose()
                }

                async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
                    let done = query(sql::TOKEN_REVOKE)
                        .bind(&id[..])
                        .bind(now)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    Ok(done.rows_affected() > 0)
                }
            }
        }
    };
}

pub(crate) use impl_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_what_clashed_on_both_backends() {
        for key in ["clients_realm_name_key", "clients.realm, clients.name"] {
            assert!(matches!(unique_violation(key), StoreError::Conflict(m) if m.contains("name")));
        }
        assert!(matches!(unique_violation("realms_pkey"), StoreError::Conflict(m) if m.contains("realm")));
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
