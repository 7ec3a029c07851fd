//! Counting each request by route template and status, and timing it.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;

use super::{EndpointLabels, Metrics, RequestLabels};

/// The label of `req`: the route template axum matched, never the raw path (realm
/// names and tokens in paths must not each make a series). Requests no route matched
/// share `unmatched`.
pub(crate) fn endpoint_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned()
}

/// Counts `response` to a request of `endpoint` that began at `started` (called by
/// `envelope`, around the timeout and the panic catcher, so a 408 and a 500 count).
pub(crate) fn record_request(metrics: &Metrics, endpoint: String, started: Instant, response: &Response) {
    let labels = EndpointLabels { endpoint };
    metrics.request_duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    let labels = RequestLabels { endpoint: labels.endpoint, status: response.status().as_u16() };
    metrics.requests.get_or_create(&labels).inc();
}
