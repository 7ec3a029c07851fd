//! Tokens as the manager keeps and hands them out. Secrets never reach `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Whose token: the client itself (client credentials) or a user it acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Subject {
    Client,
    User(String),
}

/// One access token with the refresh token it came with: what a [`crate::TokenStore`]
/// keeps. `scopes` are sorted and without repeats.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub subject: Subject,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    #[serde(with = "unix_seconds_opt")]
    pub expires_at: Option<SystemTime>,
    #[serde(with = "unix_seconds")]
    pub obtained_at: SystemTime,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("subject", &self.subject)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("obtained_at", &self.obtained_at)
            .finish()
    }
}

impl StoredToken {
    /// Usable at `now`, counting a token that expires within `leeway` as expired.
    pub fn is_valid(&self, now: SystemTime, leeway: Duration) -> bool {
        self.expires_at.is_none_or(|exp| exp.duration_since(now).is_ok_and(|left| left > leeway))
    }
}

/// Sorted, without repeats or empty values: the form scopes are compared in.
pub(crate) fn normalize_scopes<S: AsRef<str>>(scopes: &[S]) -> Vec<String> {
    let mut v: Vec<String> = scopes.iter().map(|s| s.as_ref().to_owned()).filter(|s| !s.is_empty()).collect();
    v.sort();
    v.dedup();
    v
}

/// An access token handed to a caller; cheap to clone.
#[derive(Clone)]
pub struct AccessToken(pub(crate) Arc<StoredToken>);

impl AccessToken {
    /// The bearer value, for the `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        &self.0.access_token
    }

    /// The scopes granted (sorted).
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }

    pub fn subject(&self) -> &Subject {
        &self.0.subject
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("scopes", &self.0.scopes)
            .field("expires_at", &self.0.expires_at)
            .finish()
    }
}

mod unix_seconds {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(d)?))
    }
}

mod unix_seconds_opt {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(|secs| UNIX_EPOCH + Duration::from_secs(secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_in: Option<u64>) -> StoredToken {
        let now = SystemTime::now();
        StoredToken {
            subject: Subject::Client,
            access_token: "AT-SECRET".into(),
            refresh_token: Some("RT-SECRET".into()),
            scopes: vec!["a".into()],
            expires_at: expires_in.map(|s| now + Duration::from_secs(s)),
            obtained_at: now,
        }
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let t = token(Some(60));
        let shown = format!("{t:?} {:?}", AccessToken(Arc::new(t.clone())));
        assert!(!shown.contains("AT-SECRET") && !shown.contains("RT-SECRET"), "{shown}");
    }

    #[test]
    fn a_token_expiring_within_the_leeway_counts_as_expired() {
        let now = SystemTime::now();
        assert!(token(Some(60)).is_valid(now, Duration::from_secs(30)));
        assert!(!token(Some(20)).is_valid(now, Duration::from_secs(30)));
        assert!(token(None).is_valid(now, Duration::from_secs(30)));
    }

    #[test]
    fn scopes_compare_as_sets() {
        assert_eq!(normalize_scopes(&["b", "a", "b", ""]), vec!["a".to_owned(), "b".to_owned()]);
    }
}
