//! RFC 9728 protected-resource metadata, so clients (MCP-style ones among them) find
//! the authorization server from the resource.

use axum::Router;
use axum::routing::get;

/// A router serving `/.well-known/oauth-protected-resource` for `resource` (its URL),
/// naming `authorization_servers` (issuers) and the `scopes` it understands. Merge it
/// into the resource server's router.
pub fn protected_resource_metadata(resource: &str, authorization_servers: &[&str], scopes: &[&str]) -> Router {
    let document = serde_json::json!({
        "resource": resource,
        "authorization_servers": authorization_servers,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    });
    Router::new().route("/.well-known/oauth-protected-resource", get(move || async move { axum::Json(document) }))
}
