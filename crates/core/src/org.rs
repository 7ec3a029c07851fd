//! The organization model: apps, their API keys, and a realm's named permissions.
//!
//! An app is an OAuth client (a `clients` row with the app's id and name, no secret,
//! grant types `password` and `refresh_token`) whose secrets are its API keys: the
//! app's server authenticates as `app_id:API_KEY` and signs its customers in.

use std::fmt;

/// An app of a realm: a container of API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub realm: String,
    /// Also the `client_id` of the app's client.
    pub app_id: String,
    pub name: String,
    pub created_at: i64,
    /// When every key of the app was last revoked at once.
    pub reset_at: Option<i64>,
}

/// An API key as stored: its selector and the SHA-256 of its verifier, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: [u8; 16],
    pub realm: String,
    pub app_id: String,
    pub name: String,
    pub verifier_hash: [u8; 32],
    /// Space-separated: the most a customer token issued through this key may carry.
    pub scope: String,
    /// The most a customer token issued through this key may carry.
    pub permissions: Vec<String>,
    pub test: bool,
    pub created_at: i64,
    /// Written in batches (`crate::api_key_usage`), so it may lag by a flush interval.
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &crate::token::token_id_hex(&self.id))
            .field("realm", &self.realm)
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("permissions", &self.permissions)
            .field("test", &self.test)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A key with what its validity depends on besides itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    pub key: ApiKey,
    /// The app's client is disabled.
    pub app_disabled: bool,
}

impl StoredApiKey {
    pub fn standing(&self, realm: &str) -> bool {
        self.key.realm == realm && self.key.revoked_at.is_none() && !self.app_disabled
    }
}

/// A named permission of a realm and its bit in the `perm_bits` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub realm: String,
    pub name: String,
    pub bit: u32,
    pub created_at: i64,
}

/// Bits a realm may allocate: 1,024 (a `perm_bits` claim of at most 256 hex digits).
pub const MAX_PERMISSIONS: u32 = 1024;

/// Permission names: 1 to 64 of letters, digits and `.:_-`, so that they are safe in a
/// space-separated column, a claim and a log line as they are.
pub fn validate_permission_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid permission name '{}': use 1 to 64 letters, digits, '.', ':', '_' or '-'",
            name.escape_default()
        ))
    }
}

/// The `perm_bits` claim: the set of permissions as a bit field, bit n set for the
/// permission bound to n, written as lowercase hex of the field's bytes, most
/// significant first, with leading zero bytes dropped (`"0"` for none). E.g. bits 0
/// and 9: `"0201"`. Names not in `known` are left out.
pub fn perm_bits(names: &[String], known: &[Permission]) -> String {
    let bits: Vec<u32> = names.iter().filter_map(|n| known.iter().find(|p| &p.name == n)).map(|p| p.bit).collect();
    let Some(top) = bits.iter().max() else { return "0".to_owned() };
    let mut bytes = vec![0u8; (*top as usize) / 8 + 1];
    let len = bytes.len();
    for bit in bits {
        bytes[len - 1 - (bit as usize) / 8] |= 1 << (bit % 8);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bits set in a `perm_bits` value; `None` if it is not one.
pub fn parse_perm_bits(hex: &str) -> Option<Vec<u32>> {
    if hex == "0" {
        return Some(Vec::new());
    }
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > (MAX_PERMISSIONS as usize) / 4 {
        return None;
    }
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect::<Option<_>>()?;
    let len = bytes.len();
    let mut bits = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        for b in 0..8 {
            if byte & (1 << b) != 0 {
                bits.push(((len - 1 - i) * 8 + b) as u32);
            }
        }
    }
    bits.sort_unstable();
    Some(bits)
}

/// The lowest bit not in `taken`, below [`MAX_PERMISSIONS`].
pub fn lowest_free_bit(taken: &[u32]) -> Option<u32> {
    let mut sorted = taken.to_vec();
    sorted.sort_unstable();
    let mut next = 0;
    for bit in sorted {
        if bit == next {
            next += 1;
        } else if bit > next {
            break;
        }
    }
    (next < MAX_PERMISSIONS).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(name: &str, bit: u32) -> Permission {
        Permission { realm: "r".into(), name: name.into(), bit, created_at: 0 }
    }

    #[test]
    fn perm_bits_round_trip() {
        let known = [perm("a", 0), perm("b", 9), perm("c", 63), perm("d", 64)];
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(perm_bits(&names(&[]), &known), "0");
        assert_eq!(perm_bits(&names(&["a", "b"]), &known), "0201");
        assert_eq!(perm_bits(&names(&["a", "unknown"]), &known), "01");
        let all = perm_bits(&names(&["a", "b", "c", "d"]), &known);
        assert_eq!(all.len(), 18);
        assert_eq!(parse_perm_bits(&all).unwrap(), vec![0, 9, 63, 64]);
        assert_eq!(parse_perm_bits("0").unwrap(), Vec::<u32>::new());
        assert!(parse_perm_bits("0g").is_none());
        assert!(parse_perm_bits("123").is_none());
    }

    #[test]
    fn the_lowest_free_bit_is_taken_first() {
        assert_eq!(lowest_free_bit(&[]), Some(0));
        assert_eq!(lowest_free_bit(&[0, 1, 3]), Some(2));
        assert_eq!(lowest_free_bit(&[1, 0, 2]), Some(3));
        let full: Vec<u32> = (0..MAX_PERMISSIONS).collect();
        assert_eq!(lowest_free_bit(&full), None);
    }

    #[test]
    fn permission_names_are_restricted() {
        assert!(validate_permission_name("orders.read").is_ok());
        for bad in ["", "a b", "a,b", &"x".repeat(65), "é"] {
            assert!(validate_permission_name(bad).is_err(), "{bad}");
        }
    }
}
