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
/// requests to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.settings.header_read_timeout;
    let app = router(state);
    let graceful = GracefulShutdown::new();
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
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            // Each request runs to its end in a task of its own: a client that hangs up
            // drops only the wait for the answer, never a handler in the middle of a
            // database transaction (which could leave it open on a pooled connection).
            let handling = tokio::spawn(app.clone().oneshot(req));
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
    graceful.shutdown().await;
    Ok(())
}
