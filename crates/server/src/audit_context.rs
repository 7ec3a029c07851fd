//! Sets `portcullis_core::audit::RequestInfo` around every handler, so the audit
//! events a request causes carry its request id, the client's address (resolved like
//! `extract::ClientAddr`, through trusted proxies) and its path.

use axum::extract::{ConnectInfo, Request};
use portcullis_core::audit::RequestInfo;

use crate::HttpSettings;

pub fn request_info(settings: &HttpSettings, req: &Request) -> RequestInfo {
    let peer = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let address = peer.map(|p| crate::client_addr::resolve(p, req.headers(), &settings.trusted_proxies));
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    RequestInfo { request_id, address, path: Some(req.uri().path().to_owned()) }
}
