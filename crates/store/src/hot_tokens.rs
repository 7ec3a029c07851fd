//! Tokens as last read for introspection, answered from memory while nothing that
//! could change the answer has been written since.
//!
//! The database keeps one counter, the token epoch (migration `0009_token_epoch`),
//! raised by triggers in the transaction of every change to what a token read returns
//! (a token revoked, its grant, client or user changed, a live token deleted): whoever
//! writes, this instance, another one or the CLI. A read stores the token with the
//! epoch read in the same statement, so in the same snapshot. A later read may answer
//! with the kept token if the epoch it reads, after its caller asked, is still that
//! one: no such change has committed in between, so the kept answer is the one the
//! database would give. Expiry is not the database's to say; the caller checks it
//! against its clock on every answer, kept or not.
//!
//! Refresh tokens are never kept: spending one does not raise the epoch (rotation
//! would otherwise empty the cache on every refresh).
//!
//! Bounded: at most `SHARDS * PER_SHARD` tokens; a full shard is emptied. A token is
//! kept only once a read found it, so unknown ids presented by a caller cost nothing
//! here.

use std::collections::HashMap;
use std::sync::Mutex;

use portcullis_core::model::{StoredToken, TokenKind};

const SHARDS: usize = 16;
const PER_SHARD: usize = 1024;

/// A kept read: the token, the caller's client and its revision as read with it,
/// and the epoch of that read.
struct Kept {
    token: StoredToken,
    caller_realm: String,
    caller_client_id: String,
    client_revision: Option<i64>,
    epoch: i64,
}

/// What a kept read answers, and the epoch at which it holds.
pub(crate) struct KeptRead {
    pub token: StoredToken,
    pub client_revision: Option<i64>,
    pub epoch: i64,
}

pub(crate) struct HotTokens {
    shards: [Mutex<HashMap<[u8; 16], Kept>>; SHARDS],
}

impl Default for HotTokens {
    fn default() -> Self {
        Self { shards: std::array::from_fn(|_| Mutex::new(HashMap::new())) }
    }
}

impl HotTokens {
    fn shard(&self, id: &[u8; 16]) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], Kept>> {
        // Token ids are random (UUIDv7's random tail), so their last byte spreads them.
        self.shards[usize::from(id[15]) % SHARDS].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The read kept for token `id` read by client `client_id` of `realm`, if any;
    /// it holds only while the epoch is still `KeptRead::epoch`.
    pub(crate) fn get(&self, id: &[u8; 16], realm: &str, client_id: &str) -> Option<KeptRead> {
        let shard = self.shard(id);
        let kept = shard.get(id)?;
        (kept.caller_realm == realm && kept.caller_client_id == client_id).then(|| KeptRead {
            token: kept.token.clone(),
            client_revision: kept.client_revision,
            epoch: kept.epoch,
        })
    }

    /// Keeps what a read of token `id` by client `client_id` of `realm` found at
    /// `epoch` (read in the same statement as the rest).
    pub(crate) fn keep(
        &self,
        id: &[u8; 16],
        realm: &str,
        client_id: &str,
        token: &StoredToken,
        client_revision: Option<i64>,
        epoch: i64,
    ) {
        if token.record.kind == TokenKind::Refresh {
            return;
        }
        let mut shard = self.shard(id);
        if shard.len() >= PER_SHARD && !shard.contains_key(id) {
            shard.clear();
        }
        shard.insert(
            *id,
            Kept {
                token: token.clone(),
                caller_realm: realm.to_owned(),
                caller_client_id: client_id.to_owned(),
                client_revision,
                epoch,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::model::TokenRecord;

    fn token(id: [u8; 16], kind: TokenKind) -> StoredToken {
        StoredToken {
            record: TokenRecord {
                id,
                realm: "acme".into(),
                kind,
                verifier_hash: None,
                client_id: "app".into(),
                subject: "app".into(),
                username: None,
                scope: String::new(),
                grant_id: None,
                permissions: Vec::new(),
                test: false,
                issued_at: 0,
                expires_at: Some(100),
                revoked_at: None,
                used_at: None,
            },
            client_disabled: false,
            grant_revoked: false,
            teams: Vec::new(),
            user: None,
        }
    }

    #[test]
    fn a_kept_read_is_for_its_caller_only() {
        let hot = HotTokens::default();
        let id = [7; 16];
        hot.keep(&id, "acme", "rs", &token(id, TokenKind::Access), Some(3), 41);
        let kept = hot.get(&id, "acme", "rs").unwrap();
        assert_eq!((kept.token, kept.client_revision, kept.epoch), (token(id, TokenKind::Access), Some(3), 41));
        assert!(hot.get(&id, "acme", "other").is_none());
        assert!(hot.get(&id, "other", "rs").is_none());
    }

    #[test]
    fn refresh_tokens_are_never_kept() {
        let hot = HotTokens::default();
        let id = [8; 16];
        hot.keep(&id, "acme", "rs", &token(id, TokenKind::Refresh), None, 1);
        assert!(hot.get(&id, "acme", "rs").is_none());
    }

    #[test]
    fn a_full_shard_is_emptied_so_memory_stays_bounded() {
        let hot = HotTokens::default();
        for n in 0..=PER_SHARD as u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&n.to_be_bytes());
            hot.keep(&id, "acme", "rs", &token(id, TokenKind::Access), None, 1);
        }
        assert!(hot.shards.iter().all(|s| s.lock().unwrap().len() <= PER_SHARD));
        assert_eq!(hot.shards[0].lock().unwrap().len(), 1, "the shard filled up and started again");
    }
}
