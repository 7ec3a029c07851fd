//! Rows as both backends return them, and their conversion to and from the core model.
//! A stored value that does not convert back is reported as `StoreError::Backend`:
//! it means the database holds something this version never wrote.

use std::str::FromStr;

use portcullis_core::model::{
    AuthorizationCode, AuthorizationRequest, BrowserSession, Client, Grant, GrantType, Realm, SigningKeyRecord,
    StoredToken, TokenRecord, TokenUser, User, join_list,
};
use portcullis_core::store::{StoreError, StoreResult};

/// Separators of the list columns. A list item may contain neither its separator nor
/// be empty, or it would not come back as it went in.
pub(crate) const SPACE: char = ' ';
pub(crate) const NEWLINE: char = '\n';

#[derive(sqlx::FromRow)]
pub(crate) struct RealmRow {
    name: String,
    access_ttl: i64,
    refresh_ttl: Option<i64>,
    token_format: String,
    signing_alg: String,
    created_at: i64,
    updated_at: i64,
    refresh_policy: String,
    refresh_grace: i64,
    allow_implicit: bool,
    require_pkce: bool,
    allow_plain_pkce: bool,
    code_ttl: i64,
    customer_ttl: i64,
}

impl TryFrom<RealmRow> for Realm {
    type Error = StoreError;

    fn try_from(r: RealmRow) -> StoreResult<Self> {
        Ok(Realm {
            token_format: parse(&r.token_format, "realms.token_format")?,
            signing_alg: parse(&r.signing_alg, "realms.signing_alg")?,
            refresh_policy: parse(&r.refresh_policy, "realms.refresh_policy")?,
            name: r.name,
            access_ttl: r.access_ttl,
            refresh_ttl: r.refresh_ttl,
            refresh_grace: r.refresh_grace,
            allow_implicit: r.allow_implicit,
            require_pkce: r.require_pkce,
            allow_plain_pkce: r.allow_plain_pkce,
            code_ttl: r.code_ttl,
            customer_ttl: r.customer_ttl,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub(crate) kid: String,
    pub(crate) realm: String,
    pub(crate) alg: String,
    pub(crate) private_pem: String,
    pub(crate) created_at: i64,
    pub(crate) retired_at: Option<i64>,
    pub(crate) verify_until: Option<i64>,
}

impl TryFrom<SigningKeyRow> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(r: SigningKeyRow) -> StoreResult<Self> {
        Ok(SigningKeyRecord {
            alg: parse(&r.alg, "signing_keys.alg")?,
            kid: r.kid,
            realm: r.realm,
            private_pem: r.private_pem,
            created_at: r.created_at,
            retired_at: r.retired_at,
            verify_until: r.verify_until,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub(crate) realm: String,
    pub(crate) client_id: String,
    pub(crate) name: String,
    pub(crate) secret_hash: Option<Vec<u8>>,
    pub(crate) auth_method: String,
    pub(crate) grant_types: String,
    pub(crate) redirect_uris: String,
    pub(crate) scopes: String,
    pub(crate) default_scopes: String,
    pub(crate) access_ttl: Option<i64>,
    pub(crate) refresh_ttl: Option<i64>,
    pub(crate) resource_server: bool,
    pub(crate) disabled: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) revision: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(r: ClientRow) -> StoreResult<Self> {
        let grant_types = split(&r.grant_types, SPACE)
            .iter()
            .map(|g| parse::<GrantType>(g, "clients.grant_types"))
            .collect::<StoreResult<_>>()?;
        Ok(Client {
            auth_method: parse(&r.auth_method, "clients.auth_method")?,
            grant_types,
            redirect_uris: split(&r.redirect_uris, NEWLINE),
            scopes: split(&r.scopes, SPACE),
            default_scopes: split(&r.default_scopes, SPACE),
            realm: r.realm,
            client_id: r.client_id,
            name: r.name,
            secret_hash: r.secret_hash,
            access_ttl: r.access_ttl,
            refresh_ttl: r.refresh_ttl,
            resource_server: r.resource_server,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            revision: r.revision,
        })
    }
}

/// The list columns of a client, joined for binding.
pub(crate) struct ClientLists {
    pub grant_types: String,
    pub redirect_uris: String,
    pub scopes: String,
    pub default_scopes: String,
}

impl ClientLists {
    pub fn of(c: &Client) -> StoreResult<Self> {
        let grant_types: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        Ok(ClientLists {
            grant_types: join(&grant_types, SPACE, "grant type")?,
            redirect_uris: join(&c.redirect_uris, NEWLINE, "redirect URI")?,
            scopes: join(&c.scopes, SPACE, "scope")?,
            default_scopes: join(&c.default_scopes, SPACE, "default scope")?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub(crate) id: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) kind: String,
    pub(crate) verifier_hash: Option<Vec<u8>>,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) username: Option<String>,
    pub(crate) scope: String,
    pub(crate) grant_id: Option<Vec<u8>>,
    pub(crate) permissions: String,
    pub(crate) test: bool,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) used_at: Option<i64>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> StoreResult<Self> {
        Ok(TokenRecord {
            id: bytes(r.id, "tokens.id")?,
            kind: parse(&r.kind, "tokens.kind")?,
            verifier_hash: r.verifier_hash.map(|h| bytes(h, "tokens.verifier_hash")).transpose()?,
            grant_id: r.grant_id.map(|g| bytes(g, "tokens.grant_id")).transpose()?,
            permissions: split(&r.permissions, SPACE),
            realm: r.realm,
            client_id: r.client_id,
            subject: r.subject,
            username: r.username,
            scope: r.scope,
            test: r.test,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            used_at: r.used_at,
        })
    }
}

/// A token with its client's, grant's and user's state; the `user_*` columns come from
/// a LEFT JOIN and are all NULL when the subject is no user of the realm.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredTokenRow {
    #[sqlx(flatten)]
    pub(crate) token: TokenRow,
    pub(crate) client_disabled: bool,
    pub(crate) grant_revoked: bool,
    /// NULL when the token names no stored grant.
    pub(crate) grant_teams: Option<String>,
    pub(crate) user_roles: Option<String>,
    pub(crate) user_disabled: Option<bool>,
    pub(crate) user_kind: Option<String>,
}

impl TryFrom<StoredTokenRow> for StoredToken {
    type Error = StoreError;

    fn try_from(r: StoredTokenRow) -> StoreResult<Self> {
        let user = match (r.user_roles, r.user_disabled, r.user_kind) {
            (Some(roles), Some(disabled), Some(kind)) => {
                Some(TokenUser { roles: split(&roles, SPACE), disabled, kind: parse(&kind, "users.kind")? })
            }
            (None, None, None) => None,
            _ => return Err(StoreError::Backend("stored user of a token is incomplete".to_owned())),
        };
        Ok(StoredToken {
            record: r.token.try_into()?,
            client_disabled: r.client_disabled,
            grant_revoked: r.grant_revoked,
            teams: r.grant_teams.map(|t| split(&t, SPACE)).unwrap_or_default(),
            user,
        })
    }
}

/// The state of a refresh token once a rotation failed to spend it.
#[derive(sqlx::FromRow)]
pub(crate) struct SpentTokenRow {
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub grant_id: Option<Vec<u8>>,
    pub grant_revoked: bool,
}

impl SpentTokenRow {
    /// Whether a rotation that found the token already spent is a retry within the
    /// realm's grace period (`grace_since`: the earliest spend that still counts) rather
    /// than a reuse. The old token and its grant must also be unrevoked: tokens issued
    /// into a revoked family would be dead on arrival.
    pub fn within_grace(state: Option<&Self>, grace_since: Option<i64>) -> bool {
        match (state, grace_since) {
            (Some(s), Some(since)) => {
                s.revoked_at.is_none() && !s.grant_revoked && s.used_at.is_some_and(|at| at >= since)
            }
            _ => false,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub(crate) realm: String,
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) password_hash: Option<String>,
    pub(crate) roles: String,
    pub(crate) teams: String,
    pub(crate) kind: String,
    pub(crate) disabled: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> StoreResult<Self> {
        Ok(User {
            kind: parse(&r.kind, "users.kind")?,
            roles: split(&r.roles, SPACE),
            teams: split(&r.teams, SPACE),
            realm: r.realm,
            id: r.id,
            username: r.username,
            password_hash: r.password_hash,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The derived and list columns of a user, for binding.
pub(crate) struct UserColumns {
    pub username_key: String,
    pub roles: String,
    pub teams: String,
}

impl UserColumns {
    pub fn of(u: &User) -> StoreResult<Self> {
        Ok(UserColumns {
            username_key: username_key(&u.username),
            roles: join(&u.roles, SPACE, "role")?,
            teams: join(&u.teams, SPACE, "team")?,
        })
    }
}

/// What usernames are unique by and found by: Unicode lowercase, computed here rather
/// than with SQL `lower()`, which only folds ASCII on SQLite.
pub(crate) fn username_key(username: &str) -> String {
    username.to_lowercase()
}

#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    pub(crate) id: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) username: Option<String>,
    pub(crate) scope: String,
    pub(crate) teams: String,
    pub(crate) permissions: String,
    pub(crate) test: bool,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = StoreError;

    fn try_from(r: GrantRow) -> StoreResult<Self> {
        Ok(Grant {
            id: bytes(r.id, "grants.id")?,
            teams: split(&r.teams, SPACE),
            permissions: split(&r.permissions, SPACE),
            realm: r.realm,
            client_id: r.client_id,
            subject: r.subject,
            username: r.username,
            scope: r.scope,
            test: r.test,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuthorizationCodeRow {
    pub(crate) id: Vec<u8>,
    pub(crate) verifier_hash: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) client_id: String,
    pub(crate) grant_id: Vec<u8>,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_given: bool,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
}

impl TryFrom<AuthorizationCodeRow> for AuthorizationCode {
    type Error = StoreError;

    fn try_from(r: AuthorizationCodeRow) -> StoreResult<Self> {
        Ok(AuthorizationCode {
            id: bytes(r.id, "authorization_codes.id")?,
            verifier_hash: bytes(r.verifier_hash, "authorization_codes.verifier_hash")?,
            grant_id: bytes(r.grant_id, "authorization_codes.grant_id")?,
            realm: r.realm,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_given: r.redirect_uri_given,
            code_challenge: r.code_challenge,
            code_challenge_method: r.code_challenge_method,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BrowserSessionRow {
    pub(crate) id_hash: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) user_id: Option<String>,
    pub(crate) authenticated_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl TryFrom<BrowserSessionRow> for BrowserSession {
    type Error = StoreError;

    fn try_from(r: BrowserSessionRow) -> StoreResult<Self> {
        Ok(BrowserSession {
            id_hash: bytes(r.id_hash, "sessions.id_hash")?,
            realm: r.realm,
            user_id: r.user_id,
            authenticated_at: r.authenticated_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuthorizationRequestRow {
    pub(crate) id: Vec<u8>,
    pub(crate) realm: String,
    pub(crate) session_hash: Vec<u8>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_given: bool,
    pub(crate) response_type: String,
    pub(crate) response_mode: String,
    pub(crate) scope: String,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) csrf_hash: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) client_addr: Option<String>,
}

impl TryFrom<AuthorizationRequestRow> for AuthorizationRequest {
    type Error = StoreError;

    fn try_from(r: AuthorizationRequestRow) -> StoreResult<Self> {
        Ok(AuthorizationRequest {
            id: bytes(r.id, "authorization_requests.id")?,
            session_hash: bytes(r.session_hash, "authorization_requests.session_hash")?,
            csrf_hash: bytes(r.csrf_hash, "authorization_requests.csrf_hash")?,
            realm: r.realm,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            redirect_uri_given: r.redirect_uri_given,
            response_type: r.response_type,
            response_mode: r.response_mode,
            scope: r.scope,
            state: r.state,
            code_challenge: r.code_challenge,
            code_challenge_method: r.code_challenge_method,
            prompt: r.prompt,
            created_at: r.created_at,
            expires_at: r.expires_at,
            client_addr: r.client_addr,
        })
    }
}

fn parse<T: FromStr<Err = String>>(value: &str, column: &str) -> StoreResult<T> {
    value.parse().map_err(|e| StoreError::Backend(format!("stored {column}: {e}")))
}

pub(crate) fn bytes<const N: usize>(value: Vec<u8>, column: &str) -> StoreResult<[u8; N]> {
    let len = value.len();
    value.try_into().map_err(|_| StoreError::Backend(format!("stored {column} has {len} bytes instead of {N}")))
}

/// Splits on `sep` alone, not on every separator `split_list` knows: a redirect URI or
/// a scope may contain a comma, and must come back as the single item it was.
pub(crate) fn split(value: &str, sep: char) -> Vec<String> {
    value.split(sep).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Refuses an item that would not survive `split`, rather than store a different list
/// than the caller's (for redirect URIs, compared by exact string, that would register
/// URIs the caller never asked for).
pub(crate) fn join<T: AsRef<str>>(items: &[T], sep: char, what: &str) -> StoreResult<String> {
    if let Some(bad) = items.iter().map(AsRef::as_ref).find(|s| s.is_empty() || s.contains(sep)) {
        return Err(StoreError::Backend(format!(
            "cannot store {what} '{}': it is empty or contains {:?}",
            bad.escape_default(),
            sep
        )));
    }
    Ok(join_list(items, &sep.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_including_commas() {
        let uris = ["https://a.example/cb?x=1,2", "http://127.0.0.1:8080/"];
        let joined = join(&uris, NEWLINE, "redirect URI").unwrap();
        assert_eq!(split(&joined, NEWLINE), uris);
        assert_eq!(join::<&str>(&[], SPACE, "scope").unwrap(), "");
        assert!(split("", SPACE).is_empty());
    }

    #[test]
    fn items_that_would_not_round_trip_are_refused() {
        assert!(matches!(join(&["a b"], SPACE, "scope"), Err(StoreError::Backend(_))));
        assert!(matches!(join(&[""], SPACE, "scope"), Err(StoreError::Backend(_))));
        assert!(matches!(join(&["a\nb"], NEWLINE, "redirect URI"), Err(StoreError::Backend(_))));
    }

    #[test]
    fn username_keys_fold_case_beyond_ascii() {
        assert_eq!(username_key("Alice"), username_key("aLICE"));
        assert_eq!(username_key("ÉMILE"), "émile");
        assert_eq!(username_key("ΣΟΦΊΑ"), username_key("σοφία"));
    }

    #[test]
    fn wrong_length_and_unknown_values_are_backend_errors() {
        assert!(matches!(bytes::<16>(vec![0; 15], "tokens.id"), Err(StoreError::Backend(_))));
        assert_eq!(bytes::<16>(vec![7; 16], "tokens.id").unwrap(), [7; 16]);
        let e = parse::<GrantType>("magic", "clients.grant_types").unwrap_err();
        assert!(matches!(e, StoreError::Backend(m) if m.contains("clients.grant_types")));
    }
}
