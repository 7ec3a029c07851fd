//! Clients as last read from the database, so that the hot endpoints authenticate a
//! client without reading it on every request.
//!
//! A cached copy is never trusted on its own: every use is checked against the
//! database in the same transaction or snapshot that the request relies on anyway,
//! by the client's `revision` (bumped on every change). client_credentials inserts its
//! token only if the client is still at the cached revision; introspection reads the
//! caller's current revision together with the token. A mismatch drops the copy and
//! the request is authenticated again from the database, so a rotated secret, a
//! disabled client or a narrowed scope applies on the next request on every instance,
//! as without the cache. A refusal the copy leads to (a scope or grant type it lacks,
//! a token refused before the database is read) is checked the same way before it is
//! answered, so a widened client applies at once too.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::model::Client;

/// Entries kept at most; past it the cache starts over (clients are few, and a flood
/// of unknown ids never enters it: only clients that exist are cached).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<(String, String), Arc<Client>>>,
}

impl ClientCache {
    pub fn get(&self, realm: &str, client_id: &str) -> Option<Arc<Client>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        // The key is owned; a lookup by borrowed parts would need a custom Borrow.
        entries.get(&(realm.to_owned(), client_id.to_owned())).cloned()
    }

    pub fn put(&self, client: Client) -> Arc<Client> {
        let client = Arc::new(client);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((client.realm.clone(), client.client_id.clone()), client.clone());
        client
    }

    pub fn forget(&self, realm: &str, client_id: &str) {
        self.entries.write().unwrap_or_else(|p| p.into_inner()).remove(&(realm.to_owned(), client_id.to_owned()));
    }
}
