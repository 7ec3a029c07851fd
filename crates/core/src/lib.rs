//! Protocol rules of Portcullis: grants, client authentication, scopes and tokens.
//! No HTTP and no SQL here: the server crate speaks HTTP, the store crate SQL.

pub mod address;
pub mod admin;
pub mod admin_token;
pub mod api_key_usage;
pub mod at_rest;
pub mod audit;
pub mod authority;
pub mod authorize;
pub mod client_auth;
pub mod client_cache;
pub mod client_throttle;
pub mod clock;
pub mod endpoint;
pub mod error;
/// Checks shared by the fuzz targets (`fuzz/`) and the replay of their corpora.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod grant;
pub mod metrics;
pub mod model;
pub mod org;
pub mod params;
pub mod password;
pub mod pkce;
pub mod public_url;
pub mod purge;
pub mod rate_limit;
pub mod redirect;
pub mod request_writes;
pub mod scope;
pub mod secret;
pub mod store;
pub mod throttle;
pub mod token;
pub mod urlencoded;
