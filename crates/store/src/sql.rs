//! SQL text shared by both backends. It sticks to what SQLite and PostgreSQL both
//! accept: `$n` placeholders (SQLite binds `$n` to the n-th argument), `ON CONFLICT`
//! (also `DO UPDATE` with `excluded`), `RETURNING` (SQLite 3.35+; the bundled one is
//! newer), `CASE` rather than `MIN`/`LEAST`.

macro_rules! realm_columns {
    () => {
        "name, access_ttl, refresh_ttl, token_format, signing_alg, created_at, updated_at, \
         refresh_policy, refresh_grace, allow_implicit, require_pkce, allow_plain_pkce, code_ttl, customer_ttl"
    };
}

macro_rules! key_columns {
    () => {
        "kid, realm, alg, private_pem, created_at, retired_at, verify_until"
    };
}

macro_rules! client_columns {
    () => {
        "realm, client_id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes, \
         default_scopes, access_ttl, refresh_ttl, resource_server, disabled, created_at, updated_at"
    };
}

macro_rules! token_columns {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "realm, ",
            $p,
            "kind, ",
            $p,
            "verifier_hash, ",
            $p,
            "client_id, ",
            $p,
            "subject, ",
            $p,
            "username, ",
            $p,
            "scope, ",
            $p,
            "grant_id, ",
            $p,
            "permissions, ",
            $p,
            "test, ",
            $p,
            "issued_at, ",
            $p,
            "expires_at, ",
            $p,
            "revoked_at, ",
            $p,
            "used_at"
        )
    };
}

macro_rules! user_columns {
    () => {
        "realm, id, username, password_hash, roles, teams, kind, disabled, created_at, updated_at"
    };
}

macro_rules! grant_columns {
    () => {
        "id, realm, client_id, subject, username, scope, teams, permissions, test, created_at, revoked_at"
    };
}

macro_rules! code_columns {
    () => {
        "id, verifier_hash, realm, client_id, grant_id, redirect_uri, redirect_uri_given, \
         code_challenge, code_challenge_method, issued_at, expires_at, used_at"
    };
}

macro_rules! session_columns {
    () => {
        "id_hash, realm, user_id, authenticated_at, created_at, expires_at"
    };
}

macro_rules! request_columns {
    () => {
        "id, realm, session_hash, client_id, redirect_uri, redirect_uri_given, response_type, \
         response_mode, scope, state, code_challenge, code_challenge_method, prompt, csrf_hash, \
         created_at, expires_at, client_addr"
    };
}

pub const PING: &str = "SELECT 1";

pub const SETTING_GET: &str = "SELECT value FROM settings WHERE name = $1";
pub const SETTING_INSERT_IF_ABSENT: &str =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
pub const SETTING_UPSERT: &str =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
pub const SETTING_REPLACE: &str = "UPDATE settings SET value = $2 WHERE name = $1 AND value = $3";

pub const REALM_INSERT: &str = concat!(
    "INSERT INTO realms (",
    realm_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
pub const REALM_GET: &str = concat!("SELECT ", realm_columns!(), " FROM realms WHERE name = $1");
pub const REALM_LIST: &str = concat!("SELECT ", realm_columns!(), " FROM realms ORDER BY name");
/// Same placeholders as `REALM_INSERT`, so one binding sequence serves both;
/// `$6` (`created_at`) is bound but unused.
pub const REALM_UPDATE: &str = "UPDATE realms SET access_ttl = $2, refresh_ttl = $3, \
     token_format = $4, signing_alg = $5, updated_at = $7, refresh_policy = $8, \
     refresh_grace = $9, allow_implicit = $10, require_pkce = $11, allow_plain_pkce = $12, \
     code_ttl = $13, customer_ttl = $14 WHERE name = $1";
pub const REALM_DELETE: &str = "DELETE FROM realms WHERE name = $1";
/// A no-op write whose only effect is to take the realm's row lock on PostgreSQL, so
/// that two concurrent key rotations of one realm run one after the other (SQLite
/// serializes every write transaction anyway).
pub const REALM_LOCK: &str = "UPDATE realms SET updated_at = updated_at WHERE name = $1";

pub const KEY_INSERT: &str =
    concat!("INSERT INTO signing_keys (", key_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");
/// Every private key, for sealing and rewrapping (`crate::sealing`).
pub const KEY_MATERIAL_ALL: &str = "SELECT kid, realm, alg, private_pem FROM signing_keys ORDER BY kid";
/// Conditional on the value read, so a concurrent change fails the rewrite.
pub const KEY_MATERIAL_REPLACE: &str = "UPDATE signing_keys SET private_pem = $2 WHERE kid = $1 AND private_pem = $3";
pub const KEY_LIST_VERIFYING: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM signing_keys WHERE realm = $1 AND (verify_until IS NULL OR verify_until > $2) \
     ORDER BY created_at DESC, kid DESC"
);
/// Never moves an earlier `verify_until` later: a key retired before must not verify
/// for longer because of a second rotation.
pub const KEY_RETIRE_ALL: &str = "UPDATE signing_keys SET retired_at = $2, \
     verify_until = CASE WHEN verify_until IS NOT NULL AND verify_until < $3 \
     THEN verify_until ELSE $3 END \
     WHERE realm = $1 AND retired_at IS NULL";

pub const CLIENT_INSERT: &str = concat!(
    "INSERT INTO clients (",
    client_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
pub const CLIENT_GET: &str =
    concat!("SELECT ", client_columns!(), ", revision FROM clients WHERE realm = $1 AND client_id = $2");
pub const CLIENT_REVISION: &str = "SELECT revision FROM clients WHERE realm = $1 AND client_id = $2";
/// An id match wins over a name match: another client may be named like this one's id.
pub const CLIENT_FIND: &str = concat!(
    "SELECT ",
    client_columns!(),
    ", revision FROM clients WHERE realm = $1 AND (client_id = $2 OR name = $2) \
     ORDER BY CASE WHEN client_id = $2 THEN 0 ELSE 1 END LIMIT 1"
);
pub const CLIENT_LIST: &str =
    concat!("SELECT ", client_columns!(), ", revision FROM clients WHERE realm = $1 ORDER BY name, client_id");
/// Same placeholders as `CLIENT_INSERT`, so one binding sequence serves both;
/// `$14` (`created_at`) is bound but unused.
pub const CLIENT_UPDATE: &str = "UPDATE clients SET name = $3, secret_hash = $4, \
     auth_method = $5, grant_types = $6, redirect_uris = $7, scopes = $8, \
     default_scopes = $9, access_ttl = $10, refresh_ttl = $11, resource_server = $12, \
     disabled = $13, updated_at = $15, revision = revision + 1 WHERE realm = $1 AND client_id = $2";
pub const CLIENT_DELETE: &str = "DELETE FROM clients WHERE realm = $1 AND client_id = $2";
pub const CLIENT_SET_SECRET: &str =
    "UPDATE clients SET secret_hash = $3, revision = revision + 1 WHERE realm = $1 AND client_id = $2";
pub const CLIENT_REVOKE_TOKENS: &str = "UPDATE tokens SET revoked_at = $3 \
     WHERE realm = $1 AND client_id = $2 AND revoked_at IS NULL";

/// The token columns in the order every token insert binds them.
pub const TOKEN_COLUMNS: &str = token_columns!("");
pub const TOKEN_INSERT: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
/// PostgreSQL only: a whole group-commit batch in one statement (one round trip), each
/// parameter an array holding one column of every row; `$16` holds the revision each
/// row's client must be at (NULL: any), and the rows written come back.
pub const TOKEN_INSERT_MANY_PG: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(""),
    ") SELECT ",
    token_columns!("u."),
    " FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], \
     $7::text[], $8::text[], $9::bytea[], $10::text[], $11::bool[], $12::int8[], $13::int8[], $14::int8[], \
     $15::int8[], $16::int8[]) AS u (",
    token_columns!(""),
    ", expected_revision) WHERE u.expected_revision IS NULL OR EXISTS (SELECT 1 FROM clients c \
     WHERE c.realm = u.realm AND c.client_id = u.client_id AND c.revision = u.expected_revision) RETURNING id"
);
/// A stored token with what decides whether it stands: its client's, grant's and
/// user's state.
macro_rules! stored_token_select {
    () => {
        concat!(
            token_columns!("t."),
            ", c.disabled AS client_disabled, (g.revoked_at IS NOT NULL) AS grant_revoked, \
             g.teams AS grant_teams, u.roles AS user_roles, u.disabled AS user_disabled, u.kind AS user_kind \
             FROM tokens t \
             JOIN clients c ON c.realm = t.realm AND c.client_id = t.client_id \
             LEFT JOIN grants g ON g.id = t.grant_id \
             LEFT JOIN users u ON u.realm = t.realm AND u.id = t.subject \
             WHERE t.id = $1"
        )
    };
}

/// A token whose `grant_id` names no stored grant (written before grants were, or a
/// JWT's) is not revoked by it; `user_*` are NULL when the subject is no user of the
/// realm.
pub const TOKEN_GET: &str = concat!("SELECT ", stored_token_select!());
/// `TOKEN_GET` and, in the same statement (so the same snapshot), the current
/// revision of client `$3` of realm `$2` and the token epoch (`hot_tokens`).
pub const TOKEN_GET_WITH_CLIENT_REVISION: &str = concat!(
    "SELECT (SELECT value FROM token_epoch WHERE id = 1) AS token_epoch, \
     (SELECT revision FROM clients cr WHERE cr.realm = $2 AND cr.client_id = $3) AS client_revision, ",
    stored_token_select!()
);
/// The token epoch (`hot_tokens`): raised by triggers with every change to what
/// `TOKEN_GET` answers.
pub const TOKEN_EPOCH: &str = "SELECT value FROM token_epoch WHERE id = 1";
pub const TOKEN_REVOKE: &str = "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

/// PostgreSQL only: `TOKEN_REVOKE` for a batch of callers in one statement, `$1` the
/// ids and `$2` each one's `now`; the ids revoked come back.
pub const TOKEN_REVOKE_MANY_PG: &str = "UPDATE tokens SET revoked_at = u.now \
     FROM UNNEST($1::bytea[], $2::int8[]) AS u (id, now) \
     WHERE tokens.id = u.id AND tokens.revoked_at IS NULL RETURNING tokens.id";
/// PostgreSQL only: `TOKEN_GET_WITH_CLIENT_REVISION` for a batch of callers in one
/// statement (one snapshot): `$1` the token ids, `$2`/`$3` the realm and client id
/// whose revision each caller wants (NULL: none). One row per caller, `n` its
/// 1-based place in the arrays; the token's columns are NULL when it does not exist.
pub const TOKEN_GET_MANY_PG: &str = concat!(
    "SELECT q.n, (SELECT value FROM token_epoch WHERE id = 1) AS token_epoch, \
     (SELECT revision FROM clients cr WHERE cr.realm = q.realm AND cr.client_id = q.client_id) AS client_revision, ",
    token_columns!("t."),
    ", c.disabled AS client_disabled, (g.revoked_at IS NOT NULL) AS grant_revoked, \
     g.teams AS grant_teams, u.roles AS user_roles, u.disabled AS user_disabled, u.kind AS user_kind \
     FROM UNNEST($1::bytea[], $2::text[], $3::text[]) WITH ORDINALITY AS q (id, realm, client_id, n) \
     LEFT JOIN (tokens t JOIN clients c ON c.realm = t.realm AND c.client_id = t.client_id) ON t.id = q.id \
     LEFT JOIN grants g ON g.id = t.grant_id \
     LEFT JOIN users u ON u.realm = t.realm AND u.id = t.subject"
);

/// Spends a rotated refresh token: only a live, unspent one, so that exactly one of
/// concurrent exchanges changes a row.
pub const TOKEN_SPEND: &str = "UPDATE tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL";
/// What `rotate_refresh_token` needs to tell a grace-period retry from a reuse.
pub const TOKEN_SPENT: &str = "SELECT t.used_at, t.revoked_at, t.grant_id, \
     (g.revoked_at IS NOT NULL) AS grant_revoked \
     FROM tokens t LEFT JOIN grants g ON g.id = t.grant_id WHERE t.id = $1";

/// `$4` is the lowercased username (`username_key`).
pub const USER_INSERT: &str = "INSERT INTO users (realm, id, username, username_key, password_hash, \
     roles, teams, kind, disabled, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub const USER_GET: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE realm = $1 AND id = $2");
/// `$3` is the lowercased username. An id match wins over a username match.
pub const USER_FIND: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE realm = $1 AND (id = $2 OR username_key = $3) \
     ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1"
);
pub const USER_LIST: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE realm = $1 ORDER BY username_key, id");
/// Same placeholders as `USER_INSERT`; `$5` (`password_hash`, which only
/// `USER_SET_PASSWORD` writes) and `$10` (`created_at`) are bound but unused.
pub const USER_UPDATE: &str = "UPDATE users SET username = $3, username_key = $4, roles = $6, \
     teams = $7, kind = $8, disabled = $9, updated_at = $11 WHERE realm = $1 AND id = $2";
pub const USER_SET_PASSWORD: &str = "UPDATE users SET password_hash = $3, updated_at = $4 WHERE realm = $1 AND id = $2";
pub const USER_DELETE: &str = "DELETE FROM users WHERE realm = $1 AND id = $2";
pub const USER_REVOKE_GRANTS: &str =
    "UPDATE grants SET revoked_at = $3 WHERE realm = $1 AND subject = $2 AND revoked_at IS NULL";
/// tokens.grant_id has no foreign key (see migration 0002): a grant's tokens go first,
/// in the same transaction.
pub const USER_DELETE_GRANT_TOKENS: &str =
    "DELETE FROM tokens WHERE grant_id IN (SELECT id FROM grants WHERE realm = $1 AND subject = $2)";
/// Cascades to the grants' authorization codes.
pub const USER_DELETE_GRANTS: &str = "DELETE FROM grants WHERE realm = $1 AND subject = $2";
pub const USER_DELETE_CONSENTS: &str = "DELETE FROM consents WHERE realm = $1 AND user_id = $2";
pub const USER_DELETE_SESSIONS: &str = "DELETE FROM sessions WHERE realm = $1 AND user_id = $2";

/// `$4` is `now`, `$5` is `now - window` and `$6` the limit: a window that began at or
/// before `$5` is over, and counting starts again at 1 in a window beginning at `$4`.
/// A counter at its limit is left alone and no row is returned. One statement (an
/// atomic upsert on both backends, which on PostgreSQL locks the row until the
/// transaction ends), so concurrent failures are counted exactly and never past the
/// limit.
pub const SIGN_IN_RESERVE: &str = "INSERT INTO sign_in_failures (realm, account, address, failures, window_start) \
     VALUES ($1, $2, $3, 1, $4) \
     ON CONFLICT (realm, account, address) DO UPDATE SET \
     failures = CASE WHEN sign_in_failures.window_start <= $5 THEN 1 ELSE sign_in_failures.failures + 1 END, \
     window_start = CASE WHEN sign_in_failures.window_start <= $5 THEN $4 ELSE sign_in_failures.window_start END \
     WHERE sign_in_failures.window_start <= $5 OR sign_in_failures.failures < $6 \
     RETURNING failures, window_start";
pub const SIGN_IN_RELEASE: &str = "UPDATE sign_in_failures SET failures = failures - 1 \
     WHERE realm = $1 AND account = $2 AND address = $3 AND window_start = $4 AND failures > 0";
pub const SIGN_IN_DROP_EMPTY: &str =
    "DELETE FROM sign_in_failures WHERE realm = $1 AND account = $2 AND address = $3 AND failures <= 0";
pub const SIGN_IN_GET: &str = "SELECT failures FROM sign_in_failures \
     WHERE realm = $1 AND account = $2 AND address = $3 AND window_start > $4";
pub const SIGN_IN_CLEAR_ACCOUNT: &str = "DELETE FROM sign_in_failures WHERE realm = $1 AND account = $2";

pub const SESSION_INSERT: &str =
    concat!("INSERT INTO sessions (", session_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)");
pub const SESSION_GET: &str =
    concat!("SELECT ", session_columns!(), " FROM sessions WHERE id_hash = $1 AND expires_at > $2");
pub const SESSION_DELETE: &str = "DELETE FROM sessions WHERE id_hash = $1";

pub const REQUEST_INSERT: &str = concat!(
    "INSERT INTO authorization_requests (",
    request_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
);
pub const REQUEST_GET: &str =
    concat!("SELECT ", request_columns!(), " FROM authorization_requests WHERE id = $1 AND expires_at > $2");
pub const REQUEST_DELETE: &str = "DELETE FROM authorization_requests WHERE id = $1";
/// Live requests from address `$1` at `$2`, counted no further than `$3`.
pub const REQUEST_COUNT_FOR_ADDRESS: &str = "SELECT count(*) FROM (SELECT 1 FROM authorization_requests \
     WHERE client_addr = $1 AND expires_at > $2 LIMIT $3) AS live";
/// Keeps the newest `$2` requests of session `$1` (ids are time-ordered).
pub const REQUEST_TRIM_SESSION: &str = "DELETE FROM authorization_requests WHERE session_hash = $1 \
     AND id NOT IN (SELECT id FROM authorization_requests WHERE session_hash = $1 ORDER BY id DESC LIMIT $2)";

pub const CONSENT_GET: &str = "SELECT scope FROM consents WHERE realm = $1 AND user_id = $2 AND client_id = $3";
pub const CONSENT_SAVE: &str = "INSERT INTO consents (realm, user_id, client_id, scope, granted_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (realm, user_id, client_id) \
     DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";

pub const GRANT_INSERT: &str =
    concat!("INSERT INTO grants (", grant_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
pub const GRANT_GET: &str = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
/// `$2` (user id) and `$3` (client id) filter when set.
pub const GRANT_LIST: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE realm = $1 AND ($2 IS NULL OR subject = $2) \
     AND ($3 IS NULL OR client_id = $3) ORDER BY created_at DESC, id DESC"
);
/// The first revocation stands.
pub const GRANT_REVOKE: &str = "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

pub const CODE_INSERT: &str = concat!(
    "INSERT INTO authorization_codes (",
    code_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);
pub const CODE_GET: &str = concat!("SELECT ", code_columns!(), " FROM authorization_codes WHERE id = $1");
/// Only an unused code: exactly one of concurrent redemptions gets a row back.
pub const CODE_REDEEM: &str = concat!(
    "UPDATE authorization_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING ",
    code_columns!()
);

/// `INSERT INTO tokens` of the rows given as 15 array parameters (one per token
/// column, as in `TOKEN_INSERT_MANY_PG`) and one more array of the same length,
/// (`$extra`, named `$extra_column` for a `WHERE` on `u`).
macro_rules! token_unnest_pg {
    ($a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal, $g:literal, $h:literal,
     $i:literal, $j:literal, $k:literal, $l:literal, $m:literal, $n:literal, $o:literal,
     $extra:literal, $extra_column:literal) => {
        concat!(
            "INSERT INTO tokens (",
            token_columns!(""),
            ") SELECT ",
            token_columns!("u."),
            " FROM UNNEST($",
            $a,
            "::bytea[], $",
            $b,
            "::text[], $",
            $c,
            "::text[], $",
            $d,
            "::bytea[], $",
            $e,
            "::text[], $",
            $f,
            "::text[], $",
            $g,
            "::text[], $",
            $h,
            "::text[], $",
            $i,
            "::bytea[], $",
            $j,
            "::text[], $",
            $k,
            "::bool[], $",
            $l,
            "::int8[], $",
            $m,
            "::int8[], $",
            $n,
            "::int8[], $",
            $o,
            "::int8[]",
            $extra,
            ") AS u (",
            token_columns!(""),
            $extra_column,
            ")"
        )
    };
}

/// PostgreSQL only: the common case of `rotate_refresh_token` for a batch of callers
/// in one statement (one round trip, atomic without a transaction around it): spends
/// each old token `$1` at its `$2` as `TOKEN_SPEND` does and inserts the new tokens
/// (`$3`… `$17`) of exactly the rotations that spent one, `$18` naming each new
/// token's old one. The old tokens spent come back; for the others nothing was
/// written, and the caller decides between grace and reuse in a transaction of its
/// own, whose statements see what concurrent rotations committed meanwhile (the
/// sub-statements of one statement all share its start's snapshot, so this one
/// cannot). Each old token must appear once in `$1`.
///
/// The new rows are matched to the spent ones with `= ANY` of an array built once
/// (an init plan), not `IN (SELECT …)`: on the hot pool (no hash joins) the semi-join
/// became a nested loop that ran the whole `UNNEST` again for every spent token,
/// quadratic in the batch (2.4 of the statement's 4.3 ms at 35 rotations).
pub const TOKEN_ROTATE_MANY_PG: &str = concat!(
    "WITH spent AS (UPDATE tokens SET used_at = r.spent_at \
     FROM UNNEST($1::bytea[], $2::int8[]) AS r (old_id, spent_at) \
     WHERE tokens.id = r.old_id AND tokens.used_at IS NULL AND tokens.revoked_at IS NULL RETURNING tokens.id), \
     ins AS (",
    token_unnest_pg!(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, ", $18::bytea[]", ", parent"),
    " WHERE u.parent = ANY (ARRAY(SELECT id FROM spent)) RETURNING 1) SELECT id FROM spent"
);
/// PostgreSQL only: the common case of `redeem_code` for a batch of callers in one
/// statement: `CODE_REDEEM` of each code `$1` at its `$2`, and the tokens (`$3`…
/// `$17`, `$18` naming each one's code) of exactly the codes redeemed, which come
/// back. For a code not returned (used or unknown) nothing was written. Each code
/// must appear once in `$1`. The new tokens find their code as in
/// `TOKEN_ROTATE_MANY_PG`, through an array built once.
pub const CODE_REDEEM_MANY_PG: &str = concat!(
    "WITH redeemed AS (UPDATE authorization_codes SET used_at = r.redeemed_at \
     FROM UNNEST($1::bytea[], $2::int8[]) AS r (code_id, redeemed_at) \
     WHERE authorization_codes.id = r.code_id AND authorization_codes.used_at IS NULL RETURNING ",
    code_columns!(),
    "), ins AS (",
    token_unnest_pg!(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, ", $18::bytea[]", ", parent"),
    " WHERE u.parent = ANY (ARRAY(SELECT id FROM redeemed)) RETURNING 1) SELECT ",
    code_columns!(),
    " FROM redeemed"
);

/// PostgreSQL only: point reads of a batch of callers in one statement (one round
/// trip, one snapshot), `$1` (and `$2`) their keys; one row per key found, `n` its
/// 1-based place in the arrays.
pub const GRANT_GET_MANY_PG: &str = concat!(
    "SELECT q.n, ",
    grant_columns!(),
    " FROM UNNEST($1::bytea[]) WITH ORDINALITY AS q (wanted_id, n) JOIN grants ON grants.id = q.wanted_id"
);
/// See `GRANT_GET_MANY_PG`.
pub const CODE_GET_MANY_PG: &str = concat!(
    "SELECT q.n, ",
    code_columns!(),
    " FROM UNNEST($1::bytea[]) WITH ORDINALITY AS q (wanted_id, n) \
     JOIN authorization_codes ON authorization_codes.id = q.wanted_id"
);
/// See `GRANT_GET_MANY_PG`: `$1` realms, `$2` client ids.
pub const CLIENT_GET_MANY_PG: &str = concat!(
    "SELECT q.n, ",
    client_columns!(),
    ", revision FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q (wanted_realm, wanted_id, n) \
     JOIN clients ON clients.realm = q.wanted_realm AND clients.client_id = q.wanted_id"
);
/// PostgreSQL only: `KEY_LIST_VERIFYING` for a batch of callers, `$1` their realms and
/// `$2` the earliest of their instants (each caller drops what no longer verifies at
/// its own).
pub const KEY_LIST_VERIFYING_MANY_PG: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM signing_keys WHERE realm = ANY($1::text[]) AND (verify_until IS NULL OR verify_until > $2) \
     ORDER BY created_at DESC, kid DESC"
);
/// See `GRANT_GET_MANY_PG`: `$1` realms, `$2` user ids.
pub const USER_GET_MANY_PG: &str = concat!(
    "SELECT q.n, ",
    user_columns!(),
    " FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q (wanted_realm, wanted_id, n) \
     JOIN users ON users.realm = q.wanted_realm AND users.id = q.wanted_id"
);

/// Which cutoff of `PurgeCutoffs` a purge statement takes as `$1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cutoff {
    Expired,
    WindowStarted,
}

/// One table the purge keeps small: the statement deleting one batch (`$1` the
/// cutoff, `$2` the batch size; an index range scan on the indexes of migration 0005,
/// see [`purge_sql`])
/// and whether it returns the grant ids of the rows it deleted, whose grants may then
/// be left with nothing naming them.
pub struct Purge {
    pub table: &'static str,
    pub cutoff: Cutoff,
    pub returns_grants: bool,
    pub sql: &'static str,
}

/// One purge batch: delete up to `$2` rows whose `$column` is before `$1`, oldest
/// first.
///
/// `ORDER BY $column` makes the range of its index the only cheap plan, whatever the
/// planner estimates. Without it, `WHERE $column < $1 LIMIT $2` can be planned as a
/// sequential scan that stops after `$2` rows: cheap when many rows qualify, a read of
/// the whole table when none does, which is what most passes find. PostgreSQL picks that
/// scan whenever it expects many rows to qualify, as it does (a third of the table) for
/// a table it has no statistics for yet: measured on a growing `tokens` table, each pass
/// cost more the larger the table (bench/README.md, *The purge's plan*).
///
/// SQLite names the rows by their key in a subquery. PostgreSQL names them by `ctid`, so
/// the delete is a TID scan with no join left to plan, and locks them with `FOR UPDATE
/// SKIP LOCKED`, so that instances purging at once take disjoint batches instead of
/// waiting on each other.
macro_rules! purge_sql {
    (sqlite, $table:literal, $key:literal, $key_columns:literal, $column:literal, $returning:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE ",
            $key,
            " IN (SELECT ",
            $key_columns,
            " FROM ",
            $table,
            " WHERE ",
            $column,
            " < $1 ORDER BY ",
            $column,
            " LIMIT $2)",
            $returning
        )
    };
    (postgres, $table:literal, $key:literal, $key_columns:literal, $column:literal, $returning:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE ctid = ANY(ARRAY(SELECT ctid FROM ",
            $table,
            " WHERE ",
            $column,
            " < $1 ORDER BY ",
            $column,
            " LIMIT $2 FOR UPDATE SKIP LOCKED))",
            $returning
        )
    };
}
pub(crate) use purge_sql;

/// The purge statements of one database. A new table is one more line.
macro_rules! purges {
    ($db:ident) => {
        &[
            Purge {
                table: "tokens",
                cutoff: Cutoff::Expired,
                returns_grants: true,
                sql: purge_sql!($db, "tokens", "id", "id", "expires_at", " RETURNING grant_id"),
            },
            Purge {
                table: "authorization_codes",
                cutoff: Cutoff::Expired,
                returns_grants: true,
                sql: purge_sql!($db, "authorization_codes", "id", "id", "expires_at", " RETURNING grant_id"),
            },
            Purge {
                table: "sessions",
                cutoff: Cutoff::Expired,
                returns_grants: false,
                sql: purge_sql!($db, "sessions", "id_hash", "id_hash", "expires_at", ""),
            },
            Purge {
                table: "authorization_requests",
                cutoff: Cutoff::Expired,
                returns_grants: false,
                sql: purge_sql!($db, "authorization_requests", "id", "id", "expires_at", ""),
            },
            Purge {
                table: "sign_in_failures",
                cutoff: Cutoff::WindowStarted,
                returns_grants: false,
                sql: purge_sql!(
                    $db,
                    "sign_in_failures",
                    "(realm, account, address)",
                    "realm, account, address",
                    "window_start",
                    ""
                ),
            },
        ]
    };
}

pub const PURGES_SQLITE: &[Purge] = purges!(sqlite);
pub const PURGES_PG: &[Purge] = purges!(postgres);

/// Reported with the tables of `PURGES_*`.
pub const GRANTS_TABLE: &str = "grants";
/// A grant named by no token and no code can issue nothing more and revokes nothing:
/// its tokens are the only thing that reads it. One that any token row still names
/// stays, revoked or not, because `get_token` reads the revocation through it.
pub const GRANT_DELETE_IF_UNUSED: &str = "DELETE FROM grants WHERE id = $1 \
     AND NOT EXISTS (SELECT 1 FROM tokens WHERE grant_id = $1) \
     AND NOT EXISTS (SELECT 1 FROM authorization_codes WHERE grant_id = $1)";

/// The tables `table_sizes` reports (`crate::load::SIZED_TABLES` is the same list):
/// on SQLite exact counts, each `count(*)` a scan of the table's smallest index.
pub const SQLITE_TABLE_SIZES: &str = "\
    SELECT 'tokens', count(*) FROM tokens UNION ALL \
    SELECT 'grants', count(*) FROM grants UNION ALL \
    SELECT 'authorization_codes', count(*) FROM authorization_codes UNION ALL \
    SELECT 'sessions', count(*) FROM sessions UNION ALL \
    SELECT 'authorization_requests', count(*) FROM authorization_requests UNION ALL \
    SELECT 'sign_in_failures', count(*) FROM sign_in_failures UNION ALL \
    SELECT 'consents', count(*) FROM consents UNION ALL \
    SELECT 'clients', count(*) FROM clients UNION ALL \
    SELECT 'users', count(*) FROM users UNION ALL \
    SELECT 'api_keys', count(*) FROM api_keys UNION ALL \
    SELECT 'realms', count(*) FROM realms";
/// On PostgreSQL the statistics' live row estimate: no scan, however large the table.
pub const PG_TABLE_SIZES: &str = "SELECT relname::text, n_live_tup FROM pg_stat_user_tables \
    WHERE schemaname = current_schema() AND relname = ANY($1)";
