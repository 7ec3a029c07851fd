//! The resource server's side: verify a presented access token (JWTs locally against
//! the issuer's JWKS, opaque tokens through introspection) and require a scope, a
//! token kind, an app, a subject or permissions of it, as a tower layer with an axum
//! extractor. Failures answer as RFC 6750 §3 asks: a token of another app
//! ([`RequireToken::app`]) or of another subject ([`RequireToken::subject`]) is 401
//! `invalid_token`, each with its own `error_description`; a missing scope or
//! permission is 403 `insufficient_scope`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use portcullis_client::ClientConfig;
//! use portcullis_client::resource::{RequireToken, VerifiedToken, Verifier};
//!
//! # async fn run() -> Result<(), portcullis_client::Error> {
//! // This API's own client authenticates the introspection of opaque tokens.
//! let config = ClientConfig::new("RS_ID").with_secret("RS_SECRET");
//! let verifier = Verifier::discover("http://127.0.0.1:8080/realms/default", config).await?;
//! let app: Router = Router::new()
//!     .route("/invoices", get(|VerifiedToken(claims): VerifiedToken| async move { claims.sub.unwrap_or_default() }))
//!     .layer(RequireToken::new(verifier).scope("invoices.read").kind("access"));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

mod claims;
mod jwks;
mod layer;
mod metadata;
mod verifier;

pub use claims::Claims;
pub use layer::{RequireToken, RequireTokenService, VerifiedToken};
pub use metadata::protected_resource_metadata;
pub use verifier::{TokenError, Verifier};
