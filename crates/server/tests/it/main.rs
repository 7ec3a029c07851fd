//! Integration tests: each starts a real server on 127.0.0.1 and speaks HTTP to it.

mod browser;
mod harness;

mod across_instances;
mod admin_api;
mod chromium;
mod client_cache;
mod client_credentials;
mod client_library;
mod client_middleware;
mod client_secret_throttling;
mod clock_skew;
mod code_flow;
mod fault_steps;
mod faults;
mod growth;
mod introspection;
mod metadata;
mod metrics;
mod multi_instance;
mod negative;
mod oauth2_crate;
mod organizations;
mod outage;
mod password_refresh;
mod rate_limits;
mod refresh_vs_revoke;
mod revocation;
mod sessions;
mod sign_in_throttling;
mod statement_timeouts;
mod transport;
mod upgrade;
mod write_timeouts;
