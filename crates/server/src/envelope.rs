//! The per-request work every route shares, in one middleware: counting the request
//! (when metrics are on), the request timeout (`timeout`), refusing a client secret in
//! the URL (`url_secrets`) and the request's audit context (`audit_context`).
//!
//! One layer rather than one `from_fn` each: every `from_fn` layer clones its inner
//! service and boxes the request's future, and the four of them showed in the token
//! endpoint's profiles (bench/README.md, "Profiling").
//!
//! Order, outermost first: the count (so it sees the timeout's 408 and the panic
//! catcher's 500), the refusal of a secret in the URL (before anything else runs), the
//! timeout, the audit context, then the panic catcher and the route.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use portcullis_core::audit::RequestInfo;

use crate::metrics::{Metrics, endpoint_of, record_request};
use crate::{HttpSettings, audit_context, timeout, url_secrets};

pub struct Envelope {
    pub settings: Arc<HttpSettings>,
    pub metrics: Option<Arc<Metrics>>,
}

pub async fn envelope(State(env): State<Arc<Envelope>>, req: Request, next: Next) -> Response {
    let counted = env.metrics.as_deref().map(|m| (m, endpoint_of(&req), Instant::now()));
    let response = match url_secrets::refusal(&req) {
        Some(refusal) => refusal,
        None => {
            let info = audit_context::request_info(&env.settings, &req);
            timeout::run(env.settings.request_timeout, RequestInfo::scope(info, next.run(req))).await
        }
    };
    if let Some((metrics, endpoint, started)) = counted {
        record_request(metrics, endpoint, started, &response);
    }
    response
}
