//! A [`TokenStore`] in a SQLite file (feature `sqlite`), so a restarted service keeps
//! its tokens, refresh tokens above all. The file holds bearer secrets: it is created
//! readable by its owner only.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::store::TokenStore;
use crate::token::StoredToken;

pub struct SqliteTokenStore {
    conn: Arc<Mutex<Connection>>,
}

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::Store(e.to_string())
}

impl SqliteTokenStore {
    /// Opens (creating if missing) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let existed = path.exists();
        let conn = Connection::open(path).map_err(store_error)?;
        #[cfg(unix)]
        if !existed {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(store_error)?;
        }
        #[cfg(not(unix))]
        let _ = existed;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; \
             CREATE TABLE IF NOT EXISTS portcullis_tokens (access_token TEXT PRIMARY KEY, token TEXT NOT NULL)",
        )
        .map_err(store_error)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` on the connection off the async runtime's threads.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(store_error)?
    }
}

#[async_trait]
impl TokenStore for SqliteTokenStore {
    async fn load(&self) -> Result<Vec<StoredToken>> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT token FROM portcullis_tokens").map_err(store_error)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(store_error)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(serde_json::from_str(&row.map_err(store_error)?).map_err(store_error)?);
            }
            Ok(out)
        })
        .await
    }

    async fn save(&self, token: &StoredToken) -> Result<()> {
        let (key, body) = (token.access_token.clone(), serde_json::to_string(token).map_err(store_error)?);
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO portcullis_tokens (access_token, token) VALUES (?1, ?2)",
                params![key, body],
            )
            .map(drop)
            .map_err(store_error)
        })
        .await
    }

    async fn remove(&self, access_tokens: &[String]) -> Result<()> {
        let keys = access_tokens.to_vec();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(store_error)?;
            for k in &keys {
                tx.execute("DELETE FROM portcullis_tokens WHERE access_token = ?1", params![k]).map_err(store_error)?;
            }
            tx.commit().map_err(store_error)
        })
        .await
    }
}
