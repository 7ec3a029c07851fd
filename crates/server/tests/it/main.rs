//! Integration tests: each starts a real server on 127.0.0.1 and speaks HTTP to it.

mod browser;
mod harness;
mod logs;

mod admin_api;
mod audit_log;
mod chromium;
mod client_cache;
mod client_credentials;
mod client_library;
mod client_middleware;
mod code_flow;
mod faults;
mod growth;
mod introspection;
mod metadata;
mod multi_instance;
mod negative;
mod oauth2_crate;
mod organizations;
mod outage;
mod password_refresh;
mod revocation;
mod secret_scan;
mod sessions;
mod sign_in_throttling;
mod transport;
mod write_timeouts;
