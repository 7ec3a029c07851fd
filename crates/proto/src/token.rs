use std::fmt;

use serde::{Deserialize, Serialize};

/// A successful token response (RFC 6749 §5.1).
///
/// `authorities` is the Spring Security OAuth extension: the user's role names, so
/// clients written for such servers keep working.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorities: Option<Vec<String>>,
}

/// The tokens are bearer secrets: never in `Debug` output, so never in a log line.
impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("scope", &self.scope)
            .field("authorities", &self.authorities)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenResponse;

    #[test]
    fn debug_output_hides_both_tokens() {
        let r = TokenResponse {
            access_token: "AT-SECRET".into(),
            token_type: "Bearer".into(),
            expires_in: Some(60),
            refresh_token: Some("RT-SECRET".into()),
            scope: Some("a".into()),
            authorities: None,
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("AT-SECRET") && !shown.contains("RT-SECRET") && shown.contains("scope"), "{shown}");
    }
}
