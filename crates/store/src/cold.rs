//! The cold paths both databases share: administration, users, sessions, sign-in
//! throttling, grant creation and the purge, written once against sqlx. They are a
//! macro because sqlx's generic bounds over `Database` would have to be restated on
//! every function; each wing expands it once (`sqlite/cold.rs`, `postgres/cold.rs`)
//! into plain functions over its own pools, and its role implementations call them.
//! The hot paths (tokens, codes, refresh rotation, client and user lookups) are not
//! here: each wing has its own.

use portcullis_core::at_rest::AtRest;
use sqlx::{Database, Pool, Transaction};

/// The pools the cold paths run on: reads on `read`, writes and transactions on
/// `write` (for SQLite a pool of one connection, so writers queue in the process).
pub(crate) struct Pools<DB: Database> {
    pub(crate) read: Pool<DB>,
    pub(crate) write: Pool<DB>,
    /// How a transaction starts: SQLite's `BEGIN IMMEDIATE` takes the write lock up
    /// front, so a transaction never has to upgrade a read lock (which SQLite refuses
    /// with SQLITE_BUSY instead of waiting when another process wrote in between).
    begin: &'static str,
    /// How private keys and the pepper are written and read (sealed under the master
    /// key, or in the clear without one): `crate::sealing`.
    pub(crate) at_rest: AtRest,
}

impl<DB: Database> Pools<DB> {
    pub(crate) fn new(read: Pool<DB>, write: Pool<DB>, begin: &'static str, at_rest: AtRest) -> Self {
        Self { read, write, begin, at_rest }
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.write.begin_with(self.begin).await
    }
}

/// Expands, in the calling module, one function per cold store call for the database
/// `$db`, with `$map_err` as the wing's error mapping.
macro_rules! cold_paths {
    ($db:ty, $map_err:path) => {
        use portcullis_core::at_rest::AtRest;
        use portcullis_core::model::{
            AuthorizationRequest, BrowserSession, Client, Grant, Realm, SigningKeyRecord, TokenRecord, User,
        };
        use portcullis_core::store::{FailureCount, FailureKey, PurgeCutoffs, PurgeReport, StoreError, StoreResult};
        use sqlx::Database;

        use $crate::cold::Pools;
        use $crate::rows::{
            ClientLists, ClientRow, GrantRow, RealmRow, SPACE, UserColumns, UserRow, join, username_key,
        };
        use $crate::sql;

        pub(crate) type Query<'q> = sqlx::query::Query<'q, $db, <$db as Database>::Arguments>;

        pub(crate) fn query(sql: &'static str) -> Query<'static> {
            sqlx::query::<$db>(sql)
        }

        pub(crate) fn bind_realm<'q>(q: Query<'q>, r: &Realm) -> Query<'q> {
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
                .bind(r.customer_ttl)
        }

        /// Binds `k` with its private part sealed (`crate::sealing`).
        pub(crate) fn bind_key<'q>(q: Query<'q>, k: &'q SigningKeyRecord, at_rest: &AtRest) -> Query<'q> {
            let sealed = at_rest.seal(&$crate::sealing::key_purpose(k), k.private_pem.as_bytes());
            q.bind(&k.kid)
                .bind(&k.realm)
                .bind(k.alg.as_str())
                // Sealed values and PEM are ASCII; base64 HMAC secrets too.
                .bind(String::from_utf8_lossy(&sealed).into_owned())
                .bind(k.created_at)
                .bind(k.retired_at)
                .bind(k.verify_until)
        }

        pub(crate) fn bind_client<'q>(q: Query<'q>, c: &Client) -> StoreResult<Query<'q>> {
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

        pub(crate) fn bind_token<'q>(q: Query<'q>, t: &TokenRecord) -> StoreResult<Query<'q>> {
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

        pub(crate) fn bind_user<'q>(q: Query<'q>, u: &User) -> StoreResult<Query<'q>> {
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

        pub(crate) fn bind_grant<'q>(q: Query<'q>, g: &Grant) -> StoreResult<Query<'q>> {
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

        pub(crate) fn bind_session<'q>(q: Query<'q>, s: &BrowserSession) -> Query<'q> {
            q.bind(&s.id_hash[..])
                .bind(&s.realm)
                .bind(s.user_id.as_deref())
                .bind(s.authenticated_at)
                .bind(s.created_at)
                .bind(s.expires_at)
        }

        pub(crate) fn bind_request<'q>(q: Query<'q>, r: &AuthorizationRequest) -> Query<'q> {
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

        pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
            if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }

        pub(crate) async fn ping(pools: &Pools<$db>) -> StoreResult<()> {
            query(sql::PING).execute(&pools.read).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn pepper(pools: &Pools<$db>, candidate: &[u8]) -> StoreResult<Vec<u8>> {
            let what = portcullis_core::at_rest::Sealed::Setting("pepper");
            let stored = put_setting(pools, "pepper", &pools.at_rest.seal(&what, candidate), true).await?;
            pools.at_rest.open(&what, &stored).map_err(StoreError::Backend)
        }

        pub(crate) async fn setting(pools: &Pools<$db>, name: &str) -> StoreResult<Option<Vec<u8>>> {
            sqlx::query_scalar::<$db, Vec<u8>>(sql::SETTING_GET)
                .bind(name)
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)
        }

        pub(crate) async fn put_setting(
            pools: &Pools<$db>,
            name: &str,
            value: &[u8],
            keep_existing: bool,
        ) -> StoreResult<Vec<u8>> {
            let pool = &pools.write;
            let write = if keep_existing { sql::SETTING_INSERT_IF_ABSENT } else { sql::SETTING_UPSERT };
            query(write).bind(name).bind(value).execute(pool).await.map_err($map_err)?;
            // Read on the writer: a reader could be a snapshot from before the write.
            sqlx::query_scalar::<$db, Vec<u8>>(sql::SETTING_GET).bind(name).fetch_one(pool).await.map_err($map_err)
        }

        pub(crate) async fn create_realm(pools: &Pools<$db>, realm: &Realm, key: &SigningKeyRecord) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            bind_realm(query(sql::REALM_INSERT), realm).execute(&mut *tx).await.map_err($map_err)?;
            bind_key(query(sql::KEY_INSERT), key, &pools.at_rest).execute(&mut *tx).await.map_err($map_err)?;
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn get_realm(pools: &Pools<$db>, name: &str) -> StoreResult<Option<Realm>> {
            sqlx::query_as::<$db, RealmRow>(sql::REALM_GET)
                .bind(name)
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)?
                .map(Realm::try_from)
                .transpose()
        }

        pub(crate) async fn list_realms(pools: &Pools<$db>) -> StoreResult<Vec<Realm>> {
            sqlx::query_as::<$db, RealmRow>(sql::REALM_LIST)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?
                .into_iter()
                .map(Realm::try_from)
                .collect()
        }

        pub(crate) async fn update_realm(pools: &Pools<$db>, realm: &Realm) -> StoreResult<()> {
            let done = bind_realm(query(sql::REALM_UPDATE), realm).execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn delete_realm(pools: &Pools<$db>, name: &str) -> StoreResult<()> {
            let done = query(sql::REALM_DELETE).bind(name).execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn rotate_signing_key(
            pools: &Pools<$db>,
            new_key: &SigningKeyRecord,
            now: i64,
            verify_until: i64,
        ) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let locked = query(sql::REALM_LOCK).bind(&new_key.realm).execute(&mut *tx).await.map_err($map_err)?;
            found(locked.rows_affected())?;
            query(sql::KEY_RETIRE_ALL)
                .bind(&new_key.realm)
                .bind(now)
                .bind(verify_until)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            bind_key(query(sql::KEY_INSERT), new_key, &pools.at_rest).execute(&mut *tx).await.map_err($map_err)?;
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn create_client(pools: &Pools<$db>, client: &Client) -> StoreResult<()> {
            bind_client(query(sql::CLIENT_INSERT), client)?.execute(&pools.write).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn find_client(
            pools: &Pools<$db>,
            realm: &str,
            id_or_name: &str,
        ) -> StoreResult<Option<Client>> {
            sqlx::query_as::<$db, ClientRow>(sql::CLIENT_FIND)
                .bind(realm)
                .bind(id_or_name)
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)?
                .map(Client::try_from)
                .transpose()
        }

        pub(crate) async fn list_clients(pools: &Pools<$db>, realm: &str) -> StoreResult<Vec<Client>> {
            sqlx::query_as::<$db, ClientRow>(sql::CLIENT_LIST)
                .bind(realm)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?
                .into_iter()
                .map(Client::try_from)
                .collect()
        }

        pub(crate) async fn update_client(pools: &Pools<$db>, client: &Client) -> StoreResult<()> {
            let done = bind_client(query(sql::CLIENT_UPDATE), client)?.execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn delete_client(pools: &Pools<$db>, realm: &str, client_id: &str) -> StoreResult<()> {
            let done =
                query(sql::CLIENT_DELETE).bind(realm).bind(client_id).execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn rotate_client_secret(
            pools: &Pools<$db>,
            realm: &str,
            client_id: &str,
            secret_hash: &[u8],
            revoke_tokens_at: Option<i64>,
        ) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
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

        pub(crate) async fn create_user(pools: &Pools<$db>, user: &User) -> StoreResult<()> {
            bind_user(query(sql::USER_INSERT), user)?.execute(&pools.write).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn find_user(
            pools: &Pools<$db>,
            realm: &str,
            id_or_username: &str,
        ) -> StoreResult<Option<User>> {
            sqlx::query_as::<$db, UserRow>(sql::USER_FIND)
                .bind(realm)
                .bind(id_or_username)
                .bind(username_key(id_or_username))
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)?
                .map(User::try_from)
                .transpose()
        }

        pub(crate) async fn list_users(pools: &Pools<$db>, realm: &str) -> StoreResult<Vec<User>> {
            sqlx::query_as::<$db, UserRow>(sql::USER_LIST)
                .bind(realm)
                .fetch_all(&pools.read)
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
        pub(crate) async fn update_user(pools: &Pools<$db>, user: &User) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
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

        pub(crate) async fn set_user_password(
            pools: &Pools<$db>,
            realm: &str,
            id: &str,
            password_hash: &str,
            now: i64,
        ) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let done = query(sql::USER_SET_PASSWORD)
                .bind(realm)
                .bind(id)
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            found(done.rows_affected())?;
            query(sql::USER_REVOKE_GRANTS).bind(realm).bind(id).bind(now).execute(&mut *tx).await.map_err($map_err)?;
            query(sql::USER_DELETE_SESSIONS).bind(realm).bind(id).execute(&mut *tx).await.map_err($map_err)?;
            tx.commit().await.map_err($map_err)
        }

        /// The user's sessions and consents would also go by their foreign keys;
        /// they are deleted explicitly so that this reads as what it does.
        pub(crate) async fn delete_user(pools: &Pools<$db>, realm: &str, id: &str) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let done = query(sql::USER_DELETE).bind(realm).bind(id).execute(&mut *tx).await.map_err($map_err)?;
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

        pub(crate) async fn reserve_sign_in_failure(
            pools: &Pools<$db>,
            limits: &[(FailureKey, u32)],
            now: i64,
            window_secs: i64,
        ) -> StoreResult<Option<Vec<FailureCount>>> {
            let mut tx = pools.begin().await.map_err($map_err)?;
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
                counts.push(FailureCount { failures: u32::try_from(failures).unwrap_or(u32::MAX), window_start });
            }
            tx.commit().await.map_err($map_err)?;
            Ok(Some(counts))
        }

        pub(crate) async fn release_sign_in_failure(
            pools: &Pools<$db>,
            reserved: &[(FailureKey, i64)],
        ) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
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

        pub(crate) async fn sign_in_failures(
            pools: &Pools<$db>,
            key: &FailureKey,
            now: i64,
            window_secs: i64,
        ) -> StoreResult<u32> {
            let failures = sqlx::query_scalar::<$db, i64>(sql::SIGN_IN_GET)
                .bind(&key.realm)
                .bind(&key.account)
                .bind(&key.address)
                .bind(now.saturating_sub(window_secs))
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)?;
            Ok(failures.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        }

        pub(crate) async fn clear_sign_in_failures(pools: &Pools<$db>, realm: &str, account: &str) -> StoreResult<u64> {
            let done = query(sql::SIGN_IN_CLEAR_ACCOUNT)
                .bind(realm)
                .bind(account)
                .execute(&pools.write)
                .await
                .map_err($map_err)?;
            Ok(done.rows_affected())
        }

        pub(crate) async fn create_session(pools: &Pools<$db>, session: &BrowserSession) -> StoreResult<()> {
            bind_session(query(sql::SESSION_INSERT), session).execute(&pools.write).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn delete_session(pools: &Pools<$db>, id_hash: &[u8; 32]) -> StoreResult<()> {
            query(sql::SESSION_DELETE).bind(&id_hash[..]).execute(&pools.write).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn create_authorization_request(
            pools: &Pools<$db>,
            request: &AuthorizationRequest,
        ) -> StoreResult<()> {
            bind_request(query(sql::REQUEST_INSERT), request).execute(&pools.write).await.map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn delete_authorization_request(pools: &Pools<$db>, id: &[u8; 16]) -> StoreResult<bool> {
            let done = query(sql::REQUEST_DELETE).bind(&id[..]).execute(&pools.write).await.map_err($map_err)?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn save_consent(
            pools: &Pools<$db>,
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
                .execute(&pools.write)
                .await
                .map_err($map_err)?;
            Ok(())
        }

        pub(crate) async fn create_grant(pools: &Pools<$db>, grant: &Grant, tokens: &[TokenRecord]) -> StoreResult<()> {
            let _claim = $crate::handoff::claim_write()?;
            let mut tx = pools.begin().await.map_err($map_err)?;
            bind_grant(query(sql::GRANT_INSERT), grant)?.execute(&mut *tx).await.map_err($map_err)?;
            for token in tokens {
                bind_token(query(sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err($map_err)?;
            }
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn list_grants(
            pools: &Pools<$db>,
            realm: &str,
            user: Option<&str>,
            client: Option<&str>,
        ) -> StoreResult<Vec<Grant>> {
            sqlx::query_as::<$db, GrantRow>(sql::GRANT_LIST)
                .bind(realm)
                .bind(user)
                .bind(client)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?
                .into_iter()
                .map(Grant::try_from)
                .collect()
        }

        /// Only the grant row changes: its tokens read it as revoked through
        /// `get_token`'s join (`grant_revoked`), whatever their own `revoked_at`.
        pub(crate) async fn revoke_grant(pools: &Pools<$db>, id: &[u8; 16], now: i64) -> StoreResult<bool> {
            let _claim = $crate::handoff::claim_write()?;
            let done =
                query(sql::GRANT_REVOKE).bind(&id[..]).bind(now).execute(&pools.write).await.map_err($map_err)?;
            Ok(done.rows_affected() > 0)
        }

        /// Each table's batch is one transaction; the grants its rows named are
        /// checked in that same transaction, by primary key, so no statement
        /// scans the grants table.
        pub(crate) async fn purge_expired(
            pools: &Pools<$db>,
            purges: &'static [sql::Purge],
            cutoffs: PurgeCutoffs,
            batch_size: u32,
        ) -> StoreResult<PurgeReport> {
            let mut report = PurgeReport::default();
            let mut grants_deleted = 0;
            for purge in purges {
                let cutoff = match purge.cutoff {
                    sql::Cutoff::Expired => cutoffs.expired_before,
                    sql::Cutoff::WindowStarted => cutoffs.window_started_before,
                };
                let mut tx = pools.begin().await.map_err($map_err)?;
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
                    query(purge.sql).bind(cutoff).bind(limit).execute(&mut *tx).await.map_err($map_err)?.rows_affected()
                };
                tx.commit().await.map_err($map_err)?;
                report.deleted.push((purge.table, deleted));
            }
            report.deleted.push((sql::GRANTS_TABLE, grants_deleted));
            Ok(report)
        }
    };
}

pub(crate) use cold_paths;
