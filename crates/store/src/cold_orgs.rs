//! The organization model's cold paths, written once against sqlx like
//! [`crate::cold`]: each wing expands [`org_paths!`] in its `orgs.rs`. Only
//! `get_api_key` and `list_permissions` (customer sign-in, an API key's
//! introspection) are hot, and each wing has its own.

/// Expands one function per cold call of `OrgStore` for the database `$db`, with
/// `$map_err` as the wing's error mapping and `$cold` the wing's `cold` module (its
/// `query` and binders).
macro_rules! org_paths {
    ($db:ty, $map_err:path, $cold:path) => {
        use portcullis_core::model::{Client, Grant, TokenRecord};
        use portcullis_core::org::{ApiKey, App, Permission, lowest_free_bit};
        use portcullis_core::store::{StoreError, StoreResult};

        use $cold::{bind_client, bind_grant, bind_token, found, query};
        use $crate::cold::Pools;
        use $crate::orgs_rows::{ApiKeyRow, AppRow, group_roles};
        use $crate::orgs_sql as sql;
        use $crate::rows::{SPACE, join};

        pub(crate) async fn create_app(pools: &Pools<$db>, app: &App, client: &Client) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            bind_client(query($crate::sql::CLIENT_INSERT), client)?.execute(&mut *tx).await.map_err($map_err)?;
            query(sql::APP_INSERT)
                .bind(&app.realm)
                .bind(&app.app_id)
                .bind(app.created_at)
                .bind(app.reset_at)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn find_app(pools: &Pools<$db>, realm: &str, id_or_name: &str) -> StoreResult<Option<App>> {
            let row = sqlx::query_as::<$db, AppRow>(sql::APP_FIND)
                .bind(realm)
                .bind(id_or_name)
                .fetch_optional(&pools.read)
                .await
                .map_err($map_err)?;
            Ok(row.map(App::from))
        }

        pub(crate) async fn list_apps(pools: &Pools<$db>, realm: &str) -> StoreResult<Vec<App>> {
            let rows = sqlx::query_as::<$db, AppRow>(sql::APP_LIST)
                .bind(realm)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?;
            Ok(rows.into_iter().map(App::from).collect())
        }

        pub(crate) async fn reset_app(pools: &Pools<$db>, realm: &str, app_id: &str, now: i64) -> StoreResult<u64> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let done =
                query(sql::APP_RESET).bind(realm).bind(app_id).bind(now).execute(&mut *tx).await.map_err($map_err)?;
            found(done.rows_affected())?;
            let keys = query(sql::APP_REVOKE_KEYS)
                .bind(realm)
                .bind(app_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?
                .rows_affected();
            query(sql::APP_REVOKE_GRANTS)
                .bind(realm)
                .bind(app_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            tx.commit().await.map_err($map_err)?;
            Ok(keys)
        }

        pub(crate) async fn delete_app(pools: &Pools<$db>, realm: &str, app_id: &str) -> StoreResult<()> {
            let done = query(sql::APP_DELETE).bind(realm).bind(app_id).execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn update_app(
            pools: &Pools<$db>,
            realm: &str,
            app_id: &str,
            name: &str,
            now: i64,
        ) -> StoreResult<()> {
            let done = query(sql::APP_RENAME)
                .bind(realm)
                .bind(app_id)
                .bind(name)
                .bind(now)
                .execute(&pools.write)
                .await
                .map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn create_api_key(pools: &Pools<$db>, key: &ApiKey) -> StoreResult<()> {
            let permissions = join(&key.permissions, SPACE, "permission")?;
            let mut tx = pools.begin().await.map_err($map_err)?;
            let app = sqlx::query_scalar::<$db, String>(sql::APP_EXISTS)
                .bind(&key.realm)
                .bind(&key.app_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err($map_err)?;
            if app.is_none() {
                return Err(StoreError::NotFound);
            }
            query(sql::API_KEY_INSERT)
                .bind(&key.id[..])
                .bind(&key.realm)
                .bind(&key.app_id)
                .bind(&key.name)
                .bind(&key.verifier_hash[..])
                .bind(&key.scope)
                .bind(permissions)
                .bind(key.test)
                .bind(key.created_at)
                .bind(key.last_used_at)
                .bind(key.revoked_at)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn list_api_keys(
            pools: &Pools<$db>,
            realm: &str,
            app_id: Option<&str>,
        ) -> StoreResult<Vec<ApiKey>> {
            sqlx::query_as::<$db, ApiKeyRow>(sql::API_KEY_LIST)
                .bind(realm)
                .bind(app_id)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?
                .into_iter()
                .map(ApiKey::try_from)
                .collect()
        }

        pub(crate) async fn revoke_api_key(
            pools: &Pools<$db>,
            realm: &str,
            id: &[u8; 16],
            now: i64,
        ) -> StoreResult<bool> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let done = query(sql::API_KEY_REVOKE)
                .bind(realm)
                .bind(&id[..])
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            query(sql::API_KEY_REVOKE_GRANTS).bind(&id[..]).bind(now).execute(&mut *tx).await.map_err($map_err)?;
            tx.commit().await.map_err($map_err)?;
            Ok(true)
        }

        /// The permissions are checked in the transaction that writes them, so one
        /// deleted meanwhile is refused rather than stored as a name with no bit.
        pub(crate) async fn update_api_key(pools: &Pools<$db>, key: &ApiKey) -> StoreResult<bool> {
            let permissions = join(&key.permissions, SPACE, "permission")?;
            let mut tx = pools.begin().await.map_err($map_err)?;
            for p in &key.permissions {
                let exists = sqlx::query_scalar::<$db, String>(sql::PERMISSION_EXISTS)
                    .bind(&key.realm)
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($map_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
            }
            let done = query(sql::API_KEY_UPDATE)
                .bind(&key.realm)
                .bind(&key.id[..])
                .bind(&key.name)
                .bind(&key.scope)
                .bind(permissions)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            tx.commit().await.map_err($map_err)?;
            Ok(true)
        }

        pub(crate) async fn touch_api_keys(pools: &Pools<$db>, used: &[([u8; 16], i64)]) -> StoreResult<()> {
            if used.is_empty() {
                return Ok(());
            }
            let mut tx = pools.begin().await.map_err($map_err)?;
            for (id, at) in used {
                query(sql::API_KEY_TOUCH).bind(&id[..]).bind(*at).execute(&mut *tx).await.map_err($map_err)?;
            }
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn create_customer_grant(
            pools: &Pools<$db>,
            grant: &Grant,
            api_key: &[u8; 16],
            tokens: &[TokenRecord],
        ) -> StoreResult<()> {
            let _claim = $crate::handoff::claim_write()?;
            let mut tx = pools.begin().await.map_err($map_err)?;
            bind_grant(query($crate::sql::GRANT_INSERT), grant)?.execute(&mut *tx).await.map_err($map_err)?;
            query(sql::CUSTOMER_GRANT_LINK)
                .bind(&grant.id[..])
                .bind(&api_key[..])
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            for token in tokens {
                bind_token(query($crate::sql::TOKEN_INSERT), token)?.execute(&mut *tx).await.map_err($map_err)?;
            }
            tx.commit().await.map_err($map_err)
        }

        /// The realm's row lock serializes concurrent creations (on PostgreSQL; SQLite
        /// serializes every write transaction), so two never pick the same bit.
        pub(crate) async fn create_permission(
            pools: &Pools<$db>,
            realm: &str,
            name: &str,
            now: i64,
        ) -> StoreResult<Permission> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let locked = query($crate::sql::REALM_LOCK).bind(realm).execute(&mut *tx).await.map_err($map_err)?;
            found(locked.rows_affected())?;
            let taken: Vec<i64> = sqlx::query_scalar::<$db, i64>(sql::PERMISSION_BITS)
                .bind(realm)
                .fetch_all(&mut *tx)
                .await
                .map_err($map_err)?;
            let taken: Vec<u32> = taken.into_iter().filter_map(|b| u32::try_from(b).ok()).collect();
            let Some(bit) = lowest_free_bit(&taken) else {
                return Err(StoreError::Conflict(format!(
                    "the realm already has {} permissions, the most it may have",
                    portcullis_core::org::MAX_PERMISSIONS
                )));
            };
            query(sql::PERMISSION_INSERT)
                .bind(realm)
                .bind(name)
                .bind(i64::from(bit))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
            tx.commit().await.map_err($map_err)?;
            Ok(Permission { realm: realm.to_owned(), name: name.to_owned(), bit, created_at: now })
        }

        pub(crate) async fn delete_permission(pools: &Pools<$db>, realm: &str, name: &str) -> StoreResult<()> {
            let done =
                query(sql::PERMISSION_DELETE).bind(realm).bind(name).execute(&pools.write).await.map_err($map_err)?;
            found(done.rows_affected())
        }

        pub(crate) async fn set_role_permissions(
            pools: &Pools<$db>,
            realm: &str,
            role: &str,
            permissions: &[String],
        ) -> StoreResult<()> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            for p in permissions {
                let exists = sqlx::query_scalar::<$db, String>(sql::PERMISSION_EXISTS)
                    .bind(realm)
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($map_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
            }
            query(sql::ROLE_CLEAR).bind(realm).bind(role).execute(&mut *tx).await.map_err($map_err)?;
            let mut unique: Vec<&String> = permissions.iter().collect();
            unique.sort_unstable();
            unique.dedup();
            for p in unique {
                query(sql::ROLE_ADD).bind(realm).bind(role).bind(p).execute(&mut *tx).await.map_err($map_err)?;
            }
            tx.commit().await.map_err($map_err)
        }

        pub(crate) async fn list_role_permissions(
            pools: &Pools<$db>,
            realm: &str,
        ) -> StoreResult<Vec<(String, Vec<String>)>> {
            let rows = sqlx::query_as::<$db, (String, String)>(sql::ROLE_LIST)
                .bind(realm)
                .fetch_all(&pools.read)
                .await
                .map_err($map_err)?;
            Ok(group_roles(rows))
        }

        /// A realm has few roles: all its mappings are read and filtered here, which
        /// keeps the SQL free of a variable-length `IN` list.
        pub(crate) async fn permissions_of_roles(
            pools: &Pools<$db>,
            realm: &str,
            roles: &[String],
        ) -> StoreResult<Vec<String>> {
            let mut out: Vec<String> = list_role_permissions(pools, realm)
                .await?
                .into_iter()
                .filter(|(role, _)| roles.contains(role))
                .flat_map(|(_, perms)| perms)
                .collect();
            out.sort_unstable();
            out.dedup();
            Ok(out)
        }
    };
}

pub(crate) use org_paths;
