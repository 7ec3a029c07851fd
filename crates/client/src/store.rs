//! Where the manager keeps tokens between requests (and, with a persistent store,
//! between restarts). The manager reads from its own memory; a store is written
//! through on every change and read once, when the manager starts.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::token::StoredToken;

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Every stored token, at start.
    async fn load(&self) -> Result<Vec<StoredToken>>;
    /// Adds `token`, or replaces the stored token with the same access token.
    async fn save(&self, token: &StoredToken) -> Result<()>;
    /// Removes the tokens with these access tokens (unknown ones are ignored).
    async fn remove(&self, access_tokens: &[String]) -> Result<()>;
}

/// Tokens in this process's memory only: the default.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<HashMap<String, StoredToken>>,
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Vec<StoredToken>> {
        Ok(self.tokens.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect())
    }

    async fn save(&self, token: &StoredToken) -> Result<()> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.access_token.clone(), token.clone());
        Ok(())
    }

    async fn remove(&self, access_tokens: &[String]) -> Result<()> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        for t in access_tokens {
            tokens.remove(t);
        }
        Ok(())
    }
}
