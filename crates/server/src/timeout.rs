//! The request timeout (408), which never answers while a write of the request may be
//! committing.
//!
//! tower's `TimeoutLayer` drops the handler at the deadline, wherever it is: a write
//! waiting in a writer's queue then still ran after the 408, so a refresh token could
//! be spent although its client saw a timeout, and the client's retry counted as reuse
//! and revoked the grant. Here the deadline first expires the request's writes
//! (`portcullis_core::request_writes`): a write not yet started never starts, and one
//! in flight is waited for, after which the handler's own answer (which reports it) is
//! sent.

use std::pin::pin;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use portcullis_core::error::{ErrorCode, OAuthError};
use portcullis_core::request_writes::RequestWrites;
use tokio::time::Instant;

use crate::error::ApiError;

/// How long past the deadline a write in flight is waited for. A write is bounded by
/// the database's own limits (SQLite's busy timeout, PostgreSQL's statement timeout),
/// far below this; only a connection that hangs without an error outlives it.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(30);

/// Runs `handler` (the rest of the request) under the timeout `limit`.
pub async fn run(limit: Duration, handler: impl Future<Output = Response>) -> Response {
    let writes = RequestWrites::new();
    let mut handler = pin!(RequestWrites::scope(writes.clone(), handler));
    let deadline = Instant::now() + limit;
    if let Ok(response) = tokio::time::timeout_at(deadline, &mut handler).await {
        return response;
    }
    let give_up = deadline + IN_FLIGHT_GRACE;
    loop {
        let mut released = pin!(writes.released());
        released.as_mut().enable();
        if writes.expire() {
            return timed_out();
        }
        tokio::select! {
            response = &mut handler => return response,
            () = released => {}
            () = tokio::time::sleep_until(give_up) => {
                tracing::error!("a write of a timed-out request is still running; answering 408, its outcome is unknown");
                return timed_out();
            }
        }
    }
}

/// 408 with the JSON error body every other refusal has, so a client (or the
/// `admin_json` fuzz target, which found the empty one) can read why.
fn timed_out() -> Response {
    let e = OAuthError::new(ErrorCode::RequestTimeout, "the request did not finish within the server's time limit");
    ApiError(e).into_response()
}
