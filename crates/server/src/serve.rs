//! The accept loop. axum's own `serve` sets no timer on hyper, so a client could hold
//! a connection open forever by never finishing its request head; this loop gives
//! hyper a timer, a header read timeout and a bounded read buffer.

use std::pin::pin;

use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::{AppState, router};

/// Largest request head (request line and headers) accepted; a larger one gets 431.
const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Serves until `shutdown` resolves, then stops accepting and waits for in-flight
/// requests to finish: every request read before then gets its whole answer, and so
/// does every handler whose client hung up (its writes end before this returns, so
/// that whatever the caller does last, such as flushing API-key usage, sees them).
///
/// The wait is bounded by the request timeout: idle keep-alive connections are closed
/// at once, a request head still arriving by the header read timeout, and a handler by
/// its request timeout (plus the time a write in flight takes to finish, `timeout.rs`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.settings.header_read_timeout;
    let app = router(state);
    let graceful = GracefulShutdown::new();
    // Each handler task holds a clone; `recv` returns `None` once all are dropped.
    let (in_flight, mut handlers_done) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let in_flight = in_flight.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            // Each request runs to its end in a task of its own: a client that hangs up
            // drops only the wait for the answer, never a handler in the middle of a
            // database transaction (which could leave it open on a pooled connection).
            let (app, in_flight) = (app.clone(), in_flight.clone());
            let handling = tokio::spawn(async move {
                let _in_flight = in_flight;
                app.oneshot(req).await
            });
            async move {
                match handling.await {
                    Ok(response) => response,
                    Err(_) => {
                        Ok(crate::ApiError(portcullis_core::error::OAuthError::server_error("request task failed"))
                            .into_response())
                    }
                }
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).max_buf_size(MAX_HEAD_BYTES);
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("stopped accepting connections; finishing in-flight requests");
    graceful.shutdown().await;
    drop(in_flight);
    let _ = handlers_done.recv().await;
    Ok(())
}
