use serde::{Deserialize, Serialize};

/// The error body of RFC 6749 §5.2, also used by RFC 7009, RFC 7662 and RFC 8628.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}
