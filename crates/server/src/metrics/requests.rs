//! Counting each request by route template and status, and timing it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{EndpointLabels, Metrics, RequestLabels};

/// Middleware (outermost of the per-route stack, so it sees the timeout's 408 and
/// the panic catcher's 500). The label is the route template axum matched, never the
/// raw path: realm names and tokens in paths must not each make a series. Requests no
/// route matched share `unmatched`.
pub(crate) async fn record_request(State(metrics): State<Option<Arc<Metrics>>>, req: Request, next: Next) -> Response {
    let Some(metrics) = metrics else { return next.run(req).await };
    let endpoint = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let labels = EndpointLabels { endpoint };
    metrics.request_duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    let labels = RequestLabels { endpoint: labels.endpoint, status: response.status().as_u16() };
    metrics.requests.get_or_create(&labels).inc();
    response
}
