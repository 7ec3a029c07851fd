//! Token strings: minting and parsing. Opaque tokens in [`opaque`], signed JWTs in
//! [`jwt`], the realm keys that sign them in [`keys`].

pub mod api_key;
pub mod jwt;
pub mod keys;
pub mod opaque;

/// A fresh time-ordered token id (UUIDv7): the primary key of the token's row, so
/// inserts append to the end of the index instead of landing on random pages.
pub fn new_token_id() -> [u8; 16] {
    token_id_with(&crate::secret::random_bytes())
}

/// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter that keeps ids
/// of this process strictly increasing within a millisecond (method 1 of §6.2), then
/// 62 bits of `random`, which keep ids of several instances apart. Unlike
/// `Uuid::now_v7`, which draws its randomness from the operating system itself, this
/// lets the caller take those bits from a draw it makes anyway (one system call per
/// token, not two).
pub fn token_id_with(random: &[u8; 8]) -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    /// `millis << 12 | counter` of the last id.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0) & ((1 << 48) - 1));
    // A counter that runs out within a millisecond carries into the timestamp, which
    // then runs ahead by that millisecond: still increasing, still unique.
    let after = |last: u64| (now << 12).max(last + 1);
    let previous =
        LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(after(last))).unwrap_or_else(|last| last);
    let stamp = after(previous);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((stamp >> 12) << 16 | (stamp & 0xfff)).to_be_bytes());
    bytes[8..].copy_from_slice(random);
    *uuid::Builder::from_bytes(bytes)
        .with_version(uuid::Version::SortRand)
        .with_variant(uuid::Variant::RFC4122)
        .as_uuid()
        .as_bytes()
}

pub fn token_id_hex(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).simple().to_string()
}

pub fn parse_token_id_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| *u.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are RFC 9562 version 7, stamped with the current time, and a burst within
    /// one millisecond still increases strictly.
    #[test]
    fn token_ids_are_uuid_v7_of_now_and_increase() {
        let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let ids: Vec<_> = (0..10_000).map(|_| new_token_id()).collect();
        let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for id in [ids[0], ids[9_999]] {
            let uuid = uuid::Uuid::from_bytes(id);
            assert_eq!(uuid.get_version(), Some(uuid::Version::SortRand));
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
            let millis = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
            // 10,000 ids may carry the counter a few milliseconds ahead.
            assert!(before <= millis && millis <= after + 10, "{before} <= {millis} <= {after}");
        }
    }
}
