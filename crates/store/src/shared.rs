//! What both backends share: the `Store` implementation itself (as a macro, because
//! sqlx's generic bounds over `Database` would have to be restated on every function)
//! and the parts of error mapping that do not depend on the backend.

use portcullis_core::request_writes::{RequestWrites, WriteClaim};
use portcullis_core::store::{StoreError, StoreResult};

/// Claims a token write run on the caller's task (`portcullis_core::request_writes`):
/// refused once the request has timed out, and held until the write has committed or
/// failed, so the request is not answered by a timeout in between.
pub(crate) fn claim_write() -> StoreResult<WriteClaim> {
    WriteClaim::of(RequestWrites::current().as_ref())
}

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

/// Implements `Store` for `$store`, whose inherent methods `reader()`, `writer()`
/// (each a `&Pool<$db>`) and `begin()` (a transaction on the writer) choose where each
/// statement runs, and `direct()` the SQLite hot path that takes over the token,
/// client and code calls when there is one; `$map_err` is the backend's error mapping.
macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal, $map_err:path) => {
        mod store_impl {
            use portcullis_core::model::{
                AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord,
                StoredToken, TokenRecord, User,
            };
            use portcullis_core::store::{
                CodeRedemption, FailureCount, FailureKey, PendingLimits, PurgeCutoffs, PurgeReport, Rotation, Store,
                StoreError, StoreResult,
            };
            use sqlx::Database;

            use super::*;
            use $crate::rows::{
                AuthorizationCodeRow, AuthorizationRequestRow, BrowserSessionRow, ClientLists, ClientRow, GrantRow,
                RealmRow, SPACE, SigningKeyRow, SpentTokenRow, StoredTokenRow, StoredTokenWithRevisionRow, UserColumns,
                UserRow, join, username_key,
            };
            use $crate::sql;

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as Database>::Arguments>;

            fn query(sql: &'static str) -> Query<'static> {
                sqlx::query::<$db>(sql)
            }

            /// Inserts each pending row inside `tx` whose client, if a revision is
            /// expected, is still at it; says which were written.
            #[allow(dead_code)] // PostgreSQL batches with one UNNEST statement instead.
            pub(super) async fn insert_pending_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                rows: &[$crate::group_commit::PendingToken],
            ) -> StoreResult<Vec<bool>> {
                let mut written = Vec::with_capacity(rows.len());
                for (token, expected) in rows {
                    if let Some(expected) = expected {
                        let current: Option<i64> = sqlx::query_scalar(sql::CLIENT_REVISION)
                            .bind(&token.realm)
                            .bind(&token.client_id)
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err($map_err)?;
                        if current != Some(*expected) {
                            written.push(false);
                            continue;
                        }
                    }
                    insert_tokens_in(tx, std::slice::from_ref(token)).await?;
                    written.push(true);
                }
                Ok(written)
            }

            /// Inserts `tokens` inside `tx`.
            pub(super) async fn insert_tokens_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                tokens: &[TokenRecord],
            ) -> StoreResult<()> {
                for token in tokens {
                    bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut **tx).await.map_err($map_err)?;
                }
                Ok(())
            }

            fn bind_realm<'q>(q: Query<'q>, r: &Realm) -> Query<'q> {
                q.bind(&r.name)
                    .bind(r.access_ttl)
                    .bind(r.refresh_ttl)
                    .bind(r.token_format.as_str())
                    .bind(r.signing_alg.as_str())
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .bind(r.refresh_policy.as_str())
                    .bind(r.refresh_grace)
                    .bind(r.allow_implicit)
                    .bind(r.require_pkce)
                    .bind(r.allow_plain_pkce)
                    .bind(r.code_ttl)
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
                let permissions = join(&t.permissions, SPACE, "permission")?;
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
                    .bind(t.revoked_at)
                    .bind(t.used_at))
            }

            fn bind_user<'q>(q: Query<'q>, u: &User) -> StoreResult<Query<'q>> {
                let columns = UserColumns::of(u)?;
                Ok(q.bind(&u.realm)
                    .bind(&u.id)
                    .bind(&u.username)
                    .bind(columns.username_key)
                    .bind(u.password_hash.as_deref())
                    .bind(columns.roles)
                    .bind(columns.teams)
                    .bind(u.kind.as_str())
                    .bind(u.disabled)
                    .bind(u.created_at)
                    .bind(u.updated_at))
            }

            fn bind_grant<'q>(q: Query<'q>, g: &Grant) -> StoreResult<Query<'q>> {
                let teams = join(&g.teams, SPACE, "team")?;
                let permissions = join(&g.permissions, SPACE, "permission")?;
                Ok(q.bind(&g.id[..])
                    .bind(&g.realm)
                    .bind(&g.client_id)
                    .bind(&g.subject)
                    .bind(g.username.as_deref())
                    .bind(&g.scope)
                    .bind(teams)
                    .bind(permissions)
                    .bind(g.test)
                    .bind(g.created_at)
                    .bind(g.revoked_at))
            }

            fn bind_code<'q>(q: Query<'q>, c: &AuthorizationCode) -> Query<'q> {
                q.bind(&c.id[..])
                    .bind(&c.verifier_hash[..])
                    .bind(&c.realm)
                    .bind(&c.client_id)
                    .bind(&c.grant_id[..])
                    .bind(&c.redirect_uri)
                    .bind(c.redirect_uri_given)
                    .bind(c.code_challenge.as_deref())
                    .bind(c.code_challenge_method.as_deref())
                    .bind(c.issued_at)
                    .bind(c.expires_at)
                    .bind(c.used_at)
            }

            fn bind_session<'q>(q: Query<'q>, s: &BrowserSession) -> Query<'q> {
                q.bind(&s.id_hash[..])
                    .bind(&s.realm)
                    .bind(s.user_id.as_deref())
                    .bind(s.authenticated_at)
                    .bind(s.created_at)
                    .bind(s.expires_at)
            }

            fn bind_request<'q>(q: Query<'q>, r: &AuthorizationRequest) -> Query<'q> {
                q.bind(&r.id[..])
                    .bind(&r.realm)
                    .bind(&r.session_hash[..])
                    .bind(&r.client_id)
                    .bind(&r.redirect_uri)
                    .bind(r.redirect_uri_given)
                    .bind(&r.response_type)
                    .bind(&r.response_mode)
                    .bind(&r.scope)
                    .bind(r.state.as_deref())
                    .bind(r.code_challenge.as_deref())
                    .bind(r.code_challenge_method.as_deref())
                    .bind(r.prompt.as_deref())
                    .bind(&r.csrf_hash[..])
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .bind(r.client_addr.as_deref())
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
                    self.check_writers()?;
                    query(sql::PING).execute(self.reader()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn pepper(&self, candidate: &[u8]) -> StoreResult<Vec<u8>> {
                    self.put_setting("pepper", candidate, true).await
                }

                async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
                    sqlx::query_scalar::<$db, Vec<u8>>(sql::SETTING_GET)
                        .bind(name)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)
                }

                async fn put_setting(&self, name: &str, value: &[u8], keep_existing: bool) -> StoreResult<Vec<u8>> {
                    let pool = self.writer();
                    let write = if keep_existing { sql::SETTING_INSERT_IF_ABSENT } else { sql::SETTING_UPSERT };
                    query(write).bind(name).bind(value).execute(pool).await.map_err($map_err)?;
                    // Read on the writer: a reader could be a snapshot from before the write.
                    sqlx::query_scalar::<$db, Vec<u8>>(sql::SETTING_GET)
                        .bind(name)
                        .fetch_one(pool)
                        .await
                        .map_err($map_err)
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
                    if let Some(direct) = self.direct() {
                        return direct.get_client(realm, client_id);
                    }
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
                    if let Some(direct) = self.direct() {
                        return direct.insert_tokens(vec![token.clone()]).await;
                    }
                    self.token_writer.insert(token.clone(), None).await.map(drop)
                }

                async fn insert_token_if_client_at(
                    &self,
                    token: &TokenRecord,
                    client_revision: i64,
                ) -> StoreResult<bool> {
                    if let Some(direct) = self.direct() {
                        return direct.insert_token_if_client_at(token.clone(), client_revision).await;
                    }
                    self.token_writer.insert(token.clone(), Some(client_revision)).await
                }

                async fn get_token_and_client_revision(
                    &self,
                    id: &[u8; 16],
                    realm: &str,
                    client_id: &str,
                ) -> StoreResult<(Option<StoredToken>, Option<i64>)> {
                    if let Some(direct) = self.direct() {
                        return direct.get_token_and_client_revision(id, realm, client_id);
                    }
                    // One statement, one snapshot, one round trip when the token exists.
                    let row = sqlx::query_as::<$db, StoredTokenWithRevisionRow>(sql::TOKEN_GET_WITH_CLIENT_REVISION)
                        .bind(&id[..])
                        .bind(realm)
                        .bind(client_id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?;
                    if let Some(row) = row {
                        return Ok((Some(row.token.try_into()?), row.client_revision));
                    }
                    let revision: Option<i64> = sqlx::query_scalar(sql::CLIENT_REVISION)
                        .bind(realm)
                        .bind(client_id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?;
                    Ok((None, revision))
                }

                async fn get_token(&self, id: &[u8; 16]) -> StoreResult<Option<StoredToken>> {
                    if let Some(direct) = self.direct() {
                        return direct.get_token(id);
                    }
                    sqlx::query_as::<$db, StoredTokenRow>(sql::TOKEN_GET)
                        .bind(&id[..])
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(StoredToken::try_from)
                        .transpose()
                }

                async fn revoke_token(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
                    if let Some(direct) = self.direct() {
                        return direct.revoke_token(*id, now).await;
                    }
                    let _claim = $crate::shared::claim_write()?;
                    let done = query(sql::TOKEN_REVOKE)
                        .bind(&id[..])
                        .bind(now)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn create_user(&self, user: &User) -> StoreResult<()> {
                    bind_user(query(sql::USER_INSERT), user)?.execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn get_user(&self, realm: &str, id: &str) -> StoreResult<Option<User>> {
                    if let Some(direct) = self.direct() {
                        return direct.get_user(realm, id);
                    }
                    sqlx::query_as::<$db, UserRow>(sql::USER_GET)
                        .bind(realm)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(User::try_from)
                        .transpose()
                }

                async fn find_user(&self, realm: &str, id_or_username: &str) -> StoreResult<Option<User>> {
                    sqlx::query_as::<$db, UserRow>(sql::USER_FIND)
                        .bind(realm)
                        .bind(id_or_username)
                        .bind(username_key(id_or_username))
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(User::try_from)
                        .transpose()
                }

                async fn list_users(&self, realm: &str) -> StoreResult<Vec<User>> {
                    sqlx::query_as::<$db, UserRow>(sql::USER_LIST)
                        .bind(realm)
                        .fetch_all(self.reader())
                        .await
                        .map_err($map_err)?
                        .into_iter()
                        .map(User::try_from)
                        .collect()
                }

                /// Leaves `password_hash` alone: it changes only through
                /// `set_user_password`, which also revokes the user's grants, so that an
                /// update built from a stale read cannot put an old password back.
                /// Disabling a user ends their browser sessions in the same transaction,
                /// so enabling them again later does not bring an old sign-in back.
                async fn update_user(&self, user: &User) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let done = bind_user(query(sql::USER_UPDATE), user)?.execute(&mut *tx).await.map_err($map_err)?;
                    found(done.rows_affected())?;
                    if user.disabled {
                        query(sql::USER_DELETE_SESSIONS)
                            .bind(&user.realm)
                            .bind(&user.id)
                            .execute(&mut *tx)
                            .await
                            .map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn set_user_password(
                    &self,
                    realm: &str,
                    id: &str,
                    password_hash: &str,
                    now: i64,
                ) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let done = query(sql::USER_SET_PASSWORD)
                        .bind(realm)
                        .bind(id)
                        .bind(password_hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    found(done.rows_affected())?;
                    query(sql::USER_REVOKE_GRANTS)
                        .bind(realm)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    query(sql::USER_DELETE_SESSIONS).bind(realm).bind(id).execute(&mut *tx).await.map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                /// The user's sessions and consents would also go by their foreign keys;
                /// they are deleted explicitly so that this reads as what it does.
                async fn delete_user(&self, realm: &str, id: &str) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let done =
                        query(sql::USER_DELETE).bind(realm).bind(id).execute(&mut *tx).await.map_err($map_err)?;
                    found(done.rows_affected())?;
                    // The tokens first: they find their grants through the grants table.
                    for statement in [
                        sql::USER_DELETE_GRANT_TOKENS,
                        sql::USER_DELETE_GRANTS,
                        sql::USER_DELETE_CONSENTS,
                        sql::USER_DELETE_SESSIONS,
                    ] {
                        query(statement).bind(realm).bind(id).execute(&mut *tx).await.map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn reserve_sign_in_failure(
                    &self,
                    limits: &[(FailureKey, u32)],
                    now: i64,
                    window_secs: i64,
                ) -> StoreResult<Option<Vec<FailureCount>>> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let mut counts = Vec::with_capacity(limits.len());
                    for (key, limit) in limits {
                        let row = sqlx::query_as::<$db, (i64, i64)>(sql::SIGN_IN_RESERVE)
                            .bind(&key.realm)
                            .bind(&key.account)
                            .bind(&key.address)
                            .bind(now)
                            .bind(now.saturating_sub(window_secs))
                            .bind(i64::from(*limit))
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($map_err)?;
                        // At its limit: dropping the transaction rolls back the counters
                        // already taken, so a refusal writes nothing.
                        let Some((failures, window_start)) = row else { return Ok(None) };
                        counts
                            .push(FailureCount { failures: u32::try_from(failures).unwrap_or(u32::MAX), window_start });
                    }
                    tx.commit().await.map_err($map_err)?;
                    Ok(Some(counts))
                }

                async fn release_sign_in_failure(&self, reserved: &[(FailureKey, i64)]) -> StoreResult<()> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    for (key, window_start) in reserved {
                        query(sql::SIGN_IN_RELEASE)
                            .bind(&key.realm)
                            .bind(&key.account)
                            .bind(&key.address)
                            .bind(window_start)
                            .execute(&mut *tx)
                            .await
                            .map_err($map_err)?;
                        query(sql::SIGN_IN_DROP_EMPTY)
                            .bind(&key.realm)
                            .bind(&key.account)
                            .bind(&key.address)
                            .execute(&mut *tx)
                            .await
                            .map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn sign_in_failures(&self, key: &FailureKey, now: i64, window_secs: i64) -> StoreResult<u32> {
                    let failures = sqlx::query_scalar::<$db, i64>(sql::SIGN_IN_GET)
                        .bind(&key.realm)
                        .bind(&key.account)
                        .bind(&key.address)
                        .bind(now.saturating_sub(window_secs))
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?;
                    Ok(failures.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
                }

                async fn clear_sign_in_failures(&self, realm: &str, account: &str) -> StoreResult<u64> {
                    let done = query(sql::SIGN_IN_CLEAR_ACCOUNT)
                        .bind(realm)
                        .bind(account)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    Ok(done.rows_affected())
                }

                async fn create_session(&self, session: &BrowserSession) -> StoreResult<()> {
                    bind_session(query(sql::SESSION_INSERT), session).execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn get_session(&self, id_hash: &[u8; 32], now: i64) -> StoreResult<Option<BrowserSession>> {
                    sqlx::query_as::<$db, BrowserSessionRow>(sql::SESSION_GET)
                        .bind(&id_hash[..])
                        .bind(now)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(BrowserSession::try_from)
                        .transpose()
                }

                async fn delete_session(&self, id_hash: &[u8; 32]) -> StoreResult<()> {
                    query(sql::SESSION_DELETE).bind(&id_hash[..]).execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn create_authorization_request(&self, request: &AuthorizationRequest) -> StoreResult<()> {
                    bind_request(query(sql::REQUEST_INSERT), request).execute(self.writer()).await.map_err($map_err)?;
                    Ok(())
                }

                async fn create_capped_authorization_request(
                    &self,
                    session: Option<&BrowserSession>,
                    request: &AuthorizationRequest,
                    now: i64,
                    limits: PendingLimits,
                ) -> StoreResult<bool> {
                    let mut tx = self.begin().await.map_err($map_err)?;
                    if let (Some(addr), cap @ 1..) = (request.client_addr.as_deref(), limits.per_address) {
                        let live = sqlx::query_scalar::<$db, i64>(sql::REQUEST_COUNT_FOR_ADDRESS)
                            .bind(addr)
                            .bind(now)
                            .bind(i64::from(cap))
                            .fetch_one(&mut *tx)
                            .await
                            .map_err($map_err)?;
                        if live >= i64::from(cap) {
                            return Ok(false);
                        }
                    }
                    if let Some(session) = session {
                        bind_session(query(sql::SESSION_INSERT), session).execute(&mut *tx).await.map_err($map_err)?;
                    }
                    bind_request(query(sql::REQUEST_INSERT), request).execute(&mut *tx).await.map_err($map_err)?;
                    query(sql::REQUEST_TRIM_SESSION)
                        .bind(&request.session_hash[..])
                        .bind(i64::from(limits.per_session.max(1)))
                        .execute(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    tx.commit().await.map_err($map_err)?;
                    Ok(true)
                }

                async fn get_authorization_request(
                    &self,
                    id: &[u8; 16],
                    now: i64,
                ) -> StoreResult<Option<AuthorizationRequest>> {
                    sqlx::query_as::<$db, AuthorizationRequestRow>(sql::REQUEST_GET)
                        .bind(&id[..])
                        .bind(now)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(AuthorizationRequest::try_from)
                        .transpose()
                }

                async fn delete_authorization_request(&self, id: &[u8; 16]) -> StoreResult<bool> {
                    let done =
                        query(sql::REQUEST_DELETE).bind(&id[..]).execute(self.writer()).await.map_err($map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn get_consent(
                    &self,
                    realm: &str,
                    user_id: &str,
                    client_id: &str,
                ) -> StoreResult<Option<String>> {
                    sqlx::query_scalar::<$db, String>(sql::CONSENT_GET)
                        .bind(realm)
                        .bind(user_id)
                        .bind(client_id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)
                }

                async fn save_consent(
                    &self,
                    realm: &str,
                    user_id: &str,
                    client_id: &str,
                    scope: &str,
                    now: i64,
                ) -> StoreResult<()> {
                    query(sql::CONSENT_SAVE)
                        .bind(realm)
                        .bind(user_id)
                        .bind(client_id)
                        .bind(scope)
                        .bind(now)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    Ok(())
                }

                async fn create_grant(&self, grant: &Grant, tokens: &[TokenRecord]) -> StoreResult<()> {
                    let _claim = $crate::shared::claim_write()?;
                    let mut tx = self.begin().await.map_err($map_err)?;
                    bind_grant(query(sql::GRANT_INSERT), grant)?.execute(&mut *tx).await.map_err($map_err)?;
                    for token in tokens {
                        bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err($map_err)?;
                    }
                    tx.commit().await.map_err($map_err)
                }

                async fn create_grant_with_code(
                    &self,
                    grant: &Grant,
                    code: &AuthorizationCode,
                    request_id: &[u8; 16],
                ) -> StoreResult<()> {
                    let _claim = $crate::shared::claim_write()?;
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let consumed =
                        query(sql::REQUEST_DELETE).bind(&request_id[..]).execute(&mut *tx).await.map_err($map_err)?;
                    found(consumed.rows_affected())?;
                    bind_grant(query(sql::GRANT_INSERT), grant)?.execute(&mut *tx).await.map_err($map_err)?;
                    bind_code(query(sql::CODE_INSERT), code).execute(&mut *tx).await.map_err($map_err)?;
                    tx.commit().await.map_err($map_err)
                }

                async fn get_code(&self, id: &[u8; 16]) -> StoreResult<Option<AuthorizationCode>> {
                    if let Some(direct) = self.direct() {
                        return direct.get_code(id);
                    }
                    sqlx::query_as::<$db, AuthorizationCodeRow>(sql::CODE_GET)
                        .bind(&id[..])
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(TryInto::try_into)
                        .transpose()
                }

                async fn redeem_code(
                    &self,
                    id: &[u8; 16],
                    now: i64,
                    tokens: &[TokenRecord],
                ) -> StoreResult<CodeRedemption> {
                    if let Some(direct) = self.direct() {
                        return direct.redeem_code(*id, now, tokens.to_vec()).await;
                    }
                    let _claim = $crate::shared::claim_write()?;
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let redeemed = sqlx::query_as::<$db, AuthorizationCodeRow>(sql::CODE_REDEEM)
                        .bind(&id[..])
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err($map_err)?;
                    let outcome = match redeemed {
                        Some(row) => {
                            for token in tokens {
                                bind_token(query(sql::TOKEN_INSERT), token)?
                                    .execute(&mut *tx)
                                    .await
                                    .map_err($map_err)?;
                            }
                            CodeRedemption::Redeemed(row.try_into()?)
                        }
                        None => {
                            let stored = sqlx::query_as::<$db, AuthorizationCodeRow>(sql::CODE_GET)
                                .bind(&id[..])
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err($map_err)?;
                            match stored {
                                None => CodeRedemption::Unknown,
                                Some(row) => {
                                    let code = AuthorizationCode::try_from(row)?;
                                    query(sql::GRANT_REVOKE)
                                        .bind(&code.grant_id[..])
                                        .bind(now)
                                        .execute(&mut *tx)
                                        .await
                                        .map_err($map_err)?;
                                    CodeRedemption::Replayed(code)
                                }
                            }
                        }
                    };
                    tx.commit().await.map_err($map_err)?;
                    Ok(outcome)
                }

                async fn insert_tokens(&self, tokens: &[TokenRecord]) -> StoreResult<()> {
                    if let Some(direct) = self.direct() {
                        return direct.insert_tokens(tokens.to_vec()).await;
                    }
                    let _claim = $crate::shared::claim_write()?;
                    let mut tx = self.begin().await.map_err($map_err)?;
                    insert_tokens_in(&mut tx, tokens).await?;
                    tx.commit().await.map_err($map_err)
                }

                async fn get_grant(&self, id: &[u8; 16]) -> StoreResult<Option<Grant>> {
                    if let Some(direct) = self.direct() {
                        return direct.get_grant(id);
                    }
                    sqlx::query_as::<$db, GrantRow>(sql::GRANT_GET)
                        .bind(&id[..])
                        .fetch_optional(self.reader())
                        .await
                        .map_err($map_err)?
                        .map(Grant::try_from)
                        .transpose()
                }

                async fn list_grants(
                    &self,
                    realm: &str,
                    user: Option<&str>,
                    client: Option<&str>,
                ) -> StoreResult<Vec<Grant>> {
                    sqlx::query_as::<$db, GrantRow>(sql::GRANT_LIST)
                        .bind(realm)
                        .bind(user)
                        .bind(client)
                        .fetch_all(self.reader())
                        .await
                        .map_err($map_err)?
                        .into_iter()
                        .map(Grant::try_from)
                        .collect()
                }

                /// Only the grant row changes: its tokens read it as revoked through
                /// `get_token`'s join (`grant_revoked`), whatever their own `revoked_at`.
                async fn revoke_grant(&self, id: &[u8; 16], now: i64) -> StoreResult<bool> {
                    let _claim = $crate::shared::claim_write()?;
                    let done = query(sql::GRANT_REVOKE)
                        .bind(&id[..])
                        .bind(now)
                        .execute(self.writer())
                        .await
                        .map_err($map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                /// A grace-period retry also needs the old token and its grant to be
                /// unrevoked: tokens issued into a revoked family would be dead on
                /// arrival, so that case is `Reused` and stores nothing.
                async fn rotate_refresh_token(
                    &self,
                    old: &[u8; 16],
                    now: i64,
                    grace_since: Option<i64>,
                    new_tokens: &[TokenRecord],
                ) -> StoreResult<Rotation> {
                    if let Some(direct) = self.direct() {
                        return direct.rotate_refresh_token(*old, now, grace_since, new_tokens.to_vec()).await;
                    }
                    let _claim = $crate::shared::claim_write()?;
                    let mut tx = self.begin().await.map_err($map_err)?;
                    let spent =
                        query(sql::TOKEN_SPEND).bind(&old[..]).bind(now).execute(&mut *tx).await.map_err($map_err)?;
                    let outcome = if spent.rows_affected() > 0 {
                        Rotation::Rotated
                    } else {
                        // A missing token is a reuse too: there is nothing to revoke, and
                        // nothing is stored.
                        let state = sqlx::query_as::<$db, SpentTokenRow>(sql::TOKEN_SPENT)
                            .bind(&old[..])
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($map_err)?;
                        if SpentTokenRow::within_grace(state.as_ref(), grace_since) {
                            Rotation::WithinGrace
                        } else {
                            if let Some(grant_id) = state.and_then(|s| s.grant_id) {
                                query(sql::GRANT_REVOKE)
                                    .bind(grant_id)
                                    .bind(now)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err($map_err)?;
                            }
                            Rotation::Reused
                        }
                    };
                    if outcome != Rotation::Reused {
                        for token in new_tokens {
                            bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err($map_err)?;
                        }
                    }
                    tx.commit().await.map_err($map_err)?;
                    Ok(outcome)
                }

                /// Each table's batch is one transaction; the grants its rows named are
                /// checked in that same transaction, by primary key, so no statement
                /// scans the grants table.
                async fn purge_expired(&self, cutoffs: PurgeCutoffs, batch_size: u32) -> StoreResult<PurgeReport> {
                    let mut report = PurgeReport::default();
                    let mut grants_deleted = 0;
                    for purge in self.purges() {
                        let cutoff = match purge.cutoff {
                            sql::Cutoff::Expired => cutoffs.expired_before,
                            sql::Cutoff::WindowStarted => cutoffs.window_started_before,
                        };
                        let mut tx = self.begin().await.map_err($map_err)?;
                        let limit = i64::from(batch_size.max(1));
                        let deleted = if purge.returns_grants {
                            let named = sqlx::query_scalar::<$db, Option<Vec<u8>>>(purge.sql)
                                .bind(cutoff)
                                .bind(limit)
                                .fetch_all(&mut *tx)
                                .await
                                .map_err($map_err)?;
                            let deleted = named.len() as u64;
                            let mut grants: Vec<Vec<u8>> = named.into_iter().flatten().collect();
                            grants.sort_unstable();
                            grants.dedup();
                            for grant in &grants {
                                let done = query(sql::GRANT_DELETE_IF_UNUSED)
                                    .bind(&grant[..])
                                    .execute(&mut *tx)
                                    .await
                                    .map_err($map_err)?;
                                grants_deleted += done.rows_affected();
                            }
                            deleted
                        } else {
                            query(purge.sql)
                                .bind(cutoff)
                                .bind(limit)
                                .execute(&mut *tx)
                                .await
                                .map_err($map_err)?
                                .rows_affected()
                        };
                        tx.commit().await.map_err($map_err)?;
                        report.deleted.push((purge.table, deleted));
                    }
                    report.deleted.push((sql::GRANTS_TABLE, grants_deleted));
                    Ok(report)
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
