//! Integration tests: each starts a real server on 127.0.0.1 and speaks HTTP to it.

mod harness;

mod client_credentials;
mod faults;
mod introspection;
mod metadata;
mod oauth2_crate;
mod revocation;
mod transport;
