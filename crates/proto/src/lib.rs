//! Wire types of Portcullis: what travels between the server, its CLI and the client
//! library. Serde only, so the client library can depend on this crate alone.

mod error;
mod introspection;
mod metadata;
mod token;

pub use error::ErrorResponse;
pub use introspection::{CheckTokenResponse, IntrospectionResponse};
pub use metadata::ServerMetadata;
pub use token::TokenResponse;
