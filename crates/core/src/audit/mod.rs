//! The audit log: security events (tokens issued and revoked, grants revoked, refresh
//! reuse, sign-ins, client authentication failures, admin changes) stored in the
//! database, each with its realm, time, source address and request id.
//!
//! Events are recorded through [`AuditLog`] ([`log`]), which hands them to a
//! background task that writes them in batches ([`crate::store::AuditStore`]), so the
//! token endpoint never waits for an audit row of its own. The source address and the
//! request id come from [`RequestInfo`], which the server sets for every request.
//!
//! Architecture Invariant: no event holds a token, a secret or a password: events name
//! tokens and grants by their ids (the public part), clients and users by id, and a
//! failed sign-in names the account only when one by that name exists (a password
//! typed into the username field is never stored).

mod log;

pub use log::{AuditLog, AuditLogStats};

use std::fmt;
use std::str::FromStr;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// An access token was issued (`grant_type`, `client_id`, `subject`; `target` is
    /// the token's id).
    TokenIssued,
    /// A token was revoked by its client (revocation endpoints); `target` is its id.
    TokenRevoked,
    /// A grant, and every token of it, was revoked; `action` says why
    /// (`refresh_reuse`, `code_replay`, `admin`).
    GrantRevoked,
    /// A spent refresh token was presented again (RFC 9700 §4.14.2); `target` is the
    /// grant it revoked.
    RefreshReused,
    SignInSucceeded,
    /// Wrong password, unknown or disabled account.
    SignInFailed,
    /// Refused by the sign-in throttle before the password was checked.
    SignInLocked,
    /// Client authentication failed (wrong secret, unknown or disabled client, a
    /// method the client is not registered for, a bad API key); `action` names the
    /// endpoint.
    ClientAuthFailed,
    /// A change through the admin API or the CLI; `actor` is the admin token's id
    /// (or `cli:` and the OS user), `action` what was done, `detail` the object before
    /// and after where that holds no secret.
    AdminChange,
}

impl AuditKind {
    pub const ALL: [AuditKind; 9] = [
        AuditKind::TokenIssued,
        AuditKind::TokenRevoked,
        AuditKind::GrantRevoked,
        AuditKind::RefreshReused,
        AuditKind::SignInSucceeded,
        AuditKind::SignInFailed,
        AuditKind::SignInLocked,
        AuditKind::ClientAuthFailed,
        AuditKind::AdminChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::TokenIssued => "token.issued",
            AuditKind::TokenRevoked => "token.revoked",
            AuditKind::GrantRevoked => "grant.revoked",
            AuditKind::RefreshReused => "refresh.reused",
            AuditKind::SignInSucceeded => "sign_in.succeeded",
            AuditKind::SignInFailed => "sign_in.failed",
            AuditKind::SignInLocked => "sign_in.locked",
            AuditKind::ClientAuthFailed => "client_auth.failed",
            AuditKind::AdminChange => "admin.change",
        }
    }

    /// Routine events are the ones a busy server makes on every successful request
    /// (tokens issued, sign-ins that succeeded): when the buffer is full they are
    /// dropped and counted. The rest are what an investigation needs (failures,
    /// reuse, revocations, admin changes): their request waits for room instead.
    pub fn is_routine(self) -> bool {
        matches!(self, AuditKind::TokenIssued | AuditKind::SignInSucceeded)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown audit event kind '{s}'; expected one of {}", known.join(", "))
        })
    }
}

/// One stored event. Every field but the id, time and kind is optional: each kind
/// fills the ones its doc comment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Time-ordered (UUIDv7): the listing's order and its page cursor.
    pub id: [u8; 16],
    /// Unix seconds.
    pub at: i64,
    pub realm: Option<String>,
    pub kind: AuditKind,
    /// Who acted: the admin token's id for admin changes (`cli:` and the OS user for
    /// the CLI's), the account's username for sign-ins.
    pub actor: Option<String>,
    pub client_id: Option<String>,
    /// The user (id) or client a token or grant is about.
    pub subject: Option<String>,
    pub grant_type: Option<String>,
    /// What was done or why: the admin action (`client.update`), the reason of a
    /// revocation, the endpoint of a failure.
    pub action: Option<String>,
    /// The object acted on: a token, grant, client or user id.
    pub target: Option<String>,
    /// The client's address (from a trusted proxy, the one it forwarded for).
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// JSON: an admin change's `before`/`after`, or further facts of the event.
    pub detail: Option<String>,
}

impl AuditRecord {
    /// An event of `kind` at `at`, stamped with the current request's address and id
    /// ([`RequestInfo::current`]), every other field empty.
    pub fn new(kind: AuditKind, realm: Option<&str>, at: i64) -> Self {
        let info = RequestInfo::current();
        Self {
            id: crate::token::new_token_id(),
            at,
            realm: realm.map(str::to_owned),
            kind,
            actor: None,
            client_id: None,
            subject: None,
            grant_type: None,
            action: None,
            target: None,
            address: info.as_ref().and_then(|i| i.address).map(|a| a.to_string()),
            request_id: info.and_then(|i| i.request_id),
            detail: None,
        }
    }

    /// An `admin.change` by `actor` (an admin token's id, or `cli:` and a user name):
    /// `action` on `target`, with the object `(before, after)` for an update, as the
    /// admin API and the CLI show it (their views never hold a secret).
    pub fn admin_change(
        realm: Option<&str>,
        at: i64,
        actor: String,
        action: &str,
        target: Option<&str>,
        change: Option<(serde_json::Value, serde_json::Value)>,
    ) -> Self {
        let mut e = Self::new(AuditKind::AdminChange, realm, at).actor(actor).action(action);
        e.target = target.map(str::to_owned);
        if let Some((before, after)) = change {
            e = e.detail(serde_json::json!({ "before": before, "after": after }));
        }
        e
    }

    /// A `grant.revoked`: grant `grant_id` of `client_id` in `realm`, revoked for
    /// `reason` (`refresh_reuse`, `code_replay`, `admin`). One constructor for the
    /// server and the CLI, so an operator's revocation reads the same from both.
    pub fn grant_revoked(realm: &str, at: i64, client_id: &str, grant_id: &[u8; 16], reason: &str) -> Self {
        Self::new(AuditKind::GrantRevoked, Some(realm), at)
            .client(client_id)
            .target(crate::token::token_id_hex(grant_id))
            .action(reason)
    }

    pub fn actor(mut self, v: impl Into<String>) -> Self {
        self.actor = Some(v.into());
        self
    }
    pub fn client(mut self, v: impl Into<String>) -> Self {
        self.client_id = Some(v.into());
        self
    }
    pub fn subject(mut self, v: impl Into<String>) -> Self {
        self.subject = Some(v.into());
        self
    }
    pub fn grant_type(mut self, v: impl Into<String>) -> Self {
        self.grant_type = Some(v.into());
        self
    }
    pub fn action(mut self, v: impl Into<String>) -> Self {
        self.action = Some(v.into());
        self
    }
    pub fn target(mut self, v: impl Into<String>) -> Self {
        self.target = Some(v.into());
        self
    }
    pub fn detail(mut self, v: serde_json::Value) -> Self {
        self.detail = Some(v.to_string());
        self
    }
}

/// Which events a listing wants: one realm's or the server's, optionally from a time
/// on and of one kind, after a cursor (an event id), oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// `None`: the server's events, those of no realm (admin tokens for every realm,
    /// `public_url.set`, `keys.rewrap`).
    pub realm: Option<String>,
    pub since: Option<i64>,
    pub kind: Option<AuditKind>,
    pub after: Option<[u8; 16]>,
    pub limit: u32,
}

/// What the HTTP layer knows about the request being served, for the events it
/// causes: set by the server around every handler ([`RequestInfo::scope`]).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub request_id: Option<String>,
    /// Kept as an address, written out only when an event is recorded: most requests
    /// record none.
    pub address: Option<std::net::IpAddr>,
    /// The request's path, from which a failure's endpoint is named.
    pub path: Option<String>,
}

tokio::task_local! {
    static CURRENT: RequestInfo;
}

impl RequestInfo {
    pub async fn scope<F: Future>(info: RequestInfo, work: F) -> F::Output {
        CURRENT.scope(info, work).await
    }

    /// The request being handled on this task; `None` outside one (the CLI, tests).
    pub fn current() -> Option<RequestInfo> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The endpoint of the current request: the last segment of its path
    /// (`token`, `introspect`, `revoke`, `check_token`, `revoke_token`, `login`).
    pub fn endpoint() -> Option<String> {
        let path = CURRENT.try_with(|i| i.path.clone()).ok().flatten()?;
        path.rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_named() {
        for k in AuditKind::ALL {
            assert_eq!(k.as_str().parse::<AuditKind>().unwrap(), k);
        }
        let e = "token".parse::<AuditKind>().unwrap_err();
        assert!(e.contains("'token'") && e.contains("sign_in.failed"), "{e}");
    }

    #[tokio::test]
    async fn records_carry_the_current_requests_address_and_id() {
        assert_eq!(AuditRecord::new(AuditKind::SignInFailed, None, 1).request_id, None);
        let info = RequestInfo {
            request_id: Some("r-1".into()),
            address: Some("192.0.2.1".parse().unwrap()),
            path: Some("/realms/x/oauth/token".into()),
        };
        let (record, endpoint) = RequestInfo::scope(info, async {
            (AuditRecord::new(AuditKind::SignInFailed, Some("x"), 1), RequestInfo::endpoint())
        })
        .await;
        assert_eq!(record.request_id.as_deref(), Some("r-1"));
        assert_eq!(record.address.as_deref(), Some("192.0.2.1"));
        assert_eq!(endpoint.as_deref(), Some("token"));
    }
}

/// Reads a `since` bound: Unix seconds, or an age before `now` (`90s`, `30m`, `24h`,
/// `7d`).
pub fn parse_since(s: &str, now: i64) -> Result<i64, String> {
    let bad = || format!("'{s}' is not a time: expected Unix seconds or an age such as 30m, 24h or 7d");
    let s = s.trim();
    if let Ok(at) = s.parse::<i64>() {
        return Ok(at);
    }
    let unit = match s.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3_600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let n: i64 = s[..s.len() - 1].parse().ok().filter(|n| *n >= 0).ok_or_else(bad)?;
    Ok(now.saturating_sub(n.saturating_mul(unit)))
}

#[cfg(test)]
mod since_tests {
    use super::parse_since;

    #[test]
    fn since_is_unix_seconds_or_an_age() {
        assert_eq!(parse_since("1700000000", 5), Ok(1_700_000_000));
        assert_eq!(parse_since("90s", 1_000), Ok(910));
        assert_eq!(parse_since("2h", 10_000), Ok(2_800));
        assert_eq!(parse_since("1d", 100_000), Ok(13_600));
        for bad in ["", "h", "-1d", "3w", "yesterday"] {
            assert!(parse_since(bad, 0).is_err(), "{bad}");
        }
    }
}
