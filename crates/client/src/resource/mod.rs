//! The resource server's side: verify a presented access token (JWTs locally against
//! the issuer's JWKS, opaque tokens through introspection) and require a scope, a
//! token kind or permissions of it, as a tower layer with an axum extractor. Failures
//! answer as RFC 6750 §3 asks.

mod claims;
mod jwks;
mod layer;
mod metadata;
mod verifier;

pub use claims::Claims;
pub use layer::{RequireToken, RequireTokenService, VerifiedToken};
pub use metadata::protected_resource_metadata;
pub use verifier::{TokenError, Verifier};
