//! What Portcullis needs from a database, as one trait per role ([`roles`]) that
//! [`Store`] combines: each backend (crates/store: `sqlite/`, `postgres/`) implements
//! every role, and a new part of the model (e.g. organizations) adds a role of its own.
//! The rules that matter for security are in the signatures: each method that changes
//! several rows is one transaction.

mod outcomes;
mod roles;

pub use outcomes::{
    CodeRedemption, FailureCount, FailureKey, PendingLimits, PoolLoad, PurgeCutoffs, PurgeReport, QueueLoad, Rotation,
    StoreLoad,
};
pub use roles::{
    AdminStore, AdminTokenStore, AuditStore, ClientStore, GrantStore, OrgStore, ThrottleStore, TokenStore, UserStore,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is overloaded: the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every role: what the server, the CLI and the tests hold (`Arc<dyn Store>`).
pub trait Store:
    AdminStore + ClientStore + TokenStore + GrantStore + UserStore + ThrottleStore + AdminTokenStore + OrgStore + AuditStore
{
}

impl<T> Store for T where
    T: AdminStore
        + ClientStore
        + TokenStore
        + GrantStore
        + UserStore
        + ThrottleStore
        + AdminTokenStore
        + OrgStore
        + AuditStore
{
}

/// The role traits, for calling their methods on a `Store`:
/// `use portcullis_core::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        AdminStore as _, AdminTokenStore as _, AuditStore as _, ClientStore as _, GrantStore as _, OrgStore as _,
        ThrottleStore as _, TokenStore as _, UserStore as _,
    };
}
