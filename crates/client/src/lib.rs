//! Portcullis client library: a token manager for services that call APIs, and token
//! checks for the APIs they call. Works against Portcullis and any standards-compliant
//! OAuth 2.0 server; depends on no server crate.
//!
//! ```no_run
//! use std::time::Duration;
//! use portcullis_client::{ClientConfig, Subject, TokenManager};
//!
//! # async fn run() -> Result<(), portcullis_client::Error> {
//! let config = ClientConfig::new("CLIENT_ID")
//!     .with_secret("SECRET")
//!     .with_leeway(Duration::from_secs(30));
//! let manager = TokenManager::discover("http://127.0.0.1:8080/realms/default", config).await?;
//! // Cached: later calls return the same token until it nears expiry.
//! let token = manager.get(&Subject::Client, Some(&["invoices.read"])).await?;
//! let _header = format!("Bearer {}", token.secret());
//! # Ok(())
//! # }
//! ```

mod config;
mod discovery;
mod error;
mod introspection;
mod manager;
mod requests;
#[cfg(feature = "resource")]
pub mod resource;
#[cfg(feature = "sqlite")]
mod sqlite_store;
mod store;
mod token;

pub use config::{AuthMethod, ClientConfig};
pub use discovery::ServerMetadata;
pub use error::{Error, Result};
pub use introspection::Introspection;
pub use manager::TokenManager;
pub use portcullis_proto::TokenResponse;
#[cfg(feature = "sqlite")]
pub use sqlite_store::SqliteTokenStore;
pub use store::{MemoryStore, TokenStore};
pub use token::{AccessToken, StoredToken, Subject};
