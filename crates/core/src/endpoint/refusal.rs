//! Why a stored token is not usable, told apart for the server's log only: callers
//! are answered `active: false` (or Spring's two messages) whatever the reason, so
//! the endpoints are no oracle for what became of someone's token.

use crate::model::StoredToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such token, or the presented string does not match the stored one.
    Unknown,
    WrongRealm,
    Revoked,
    ClientDisabled,
    GrantRevoked,
    UserDisabled,
    /// A refresh token already exchanged.
    Spent,
    Expired,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::WrongRealm => "wrong realm",
            Self::Revoked => "revoked",
            Self::ClientDisabled => "client disabled",
            Self::GrantRevoked => "grant revoked",
            Self::UserDisabled => "user disabled",
            Self::Spent => "spent",
            Self::Expired => "expired",
        }
    }
}

/// The first reason `stored` (whose presented form matched it iff `verified`) is not
/// usable in `realm` at `now`, `None` when it is. The same conditions as
/// [`StoredToken::standing`], spending and expiry, one by one.
pub fn refusal(stored: &StoredToken, verified: bool, realm: &str, now: i64) -> Option<Refusal> {
    let r = &stored.record;
    let reason = if !verified {
        Refusal::Unknown
    } else if r.realm != realm {
        Refusal::WrongRealm
    } else if r.revoked_at.is_some() {
        Refusal::Revoked
    } else if stored.client_disabled {
        Refusal::ClientDisabled
    } else if stored.grant_revoked {
        Refusal::GrantRevoked
    } else if stored.user.as_ref().is_some_and(|u| u.disabled) {
        Refusal::UserDisabled
    } else if r.used_at.is_some() {
        Refusal::Spent
    } else if stored.expired(now) {
        Refusal::Expired
    } else {
        return None;
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::{Refusal, refusal};
    use crate::model::{StoredToken, TokenKind, TokenRecord, TokenUser, UserKind};

    fn live() -> StoredToken {
        StoredToken {
            record: TokenRecord {
                id: [7; 16],
                realm: "acme".into(),
                kind: TokenKind::Access,
                verifier_hash: None,
                client_id: "svc".into(),
                subject: "alice".into(),
                username: None,
                scope: String::new(),
                grant_id: None,
                permissions: Vec::new(),
                test: false,
                issued_at: 100,
                expires_at: Some(200),
                revoked_at: None,
                used_at: None,
            },
            client_disabled: false,
            grant_revoked: false,
            teams: Vec::new(),
            user: Some(TokenUser { roles: Vec::new(), disabled: false, kind: UserKind::Staff }),
        }
    }

    #[test]
    fn each_ending_is_told_apart_and_a_live_token_has_none() {
        assert_eq!(refusal(&live(), true, "acme", 150), None);
        assert_eq!(refusal(&live(), false, "acme", 150), Some(Refusal::Unknown));
        assert_eq!(refusal(&live(), true, "other", 150), Some(Refusal::WrongRealm));
        type Ending = fn(&mut StoredToken);
        let cases: [(Ending, Refusal); 6] = [
            (|t| t.record.revoked_at = Some(120), Refusal::Revoked),
            (|t| t.client_disabled = true, Refusal::ClientDisabled),
            (|t| t.grant_revoked = true, Refusal::GrantRevoked),
            (|t| t.user.as_mut().unwrap().disabled = true, Refusal::UserDisabled),
            (|t| t.record.used_at = Some(120), Refusal::Spent),
            (|t| t.record.expires_at = Some(150), Refusal::Expired),
        ];
        for (end, reason) in cases {
            let mut t = live();
            end(&mut t);
            assert_eq!(refusal(&t, true, "acme", 150), Some(reason), "{}", reason.as_str());
        }
        let names: std::collections::HashSet<_> = cases.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(names.len(), cases.len(), "distinct log reasons");
    }
}
