//! The accept loop. axum's own `serve` sets no timer on hyper, so a client could hold
//! a connection open forever by never finishing its request head; this loop gives
//! hyper a timer, a header read timeout and a bounded read buffer.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::tls::Tls;
use crate::{AppState, router};

/// Largest request head (request line and headers) accepted; a larger one gets 431.
const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Serves plain HTTP until `shutdown` resolves, then stops accepting and waits for
/// in-flight requests to finish: every request read before then gets its whole answer,
/// and so does every handler whose client hung up (its writes end before this returns,
/// so that whatever the caller does last, such as flushing API-key usage, sees them).
///
/// The wait is bounded by the request timeout: idle keep-alive connections are closed
/// at once, a request head still arriving by the header read timeout, and a handler by
/// its request timeout (plus the time a write in flight takes to finish, `timeout.rs`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over HTTPS when `tls` is given.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.settings.header_read_timeout;
    serve_app(listener, router(state), tls, header_read_timeout, shutdown).await
}

/// The accept loop of [`serve_with`] for any router: the metrics listener uses it too,
/// so a scraper's address gets the same bounds as the public one.
pub(crate) async fn serve_app(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<Tls>>,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
        // Taken before the handshake, so shutdown waits for a connection still in it.
        let watcher = graceful.watcher();
        match &tls {
            None => {
                tokio::spawn(serve_connection(stream, peer, app, in_flight, header_read_timeout, watcher));
            }
            Some(tls) => {
                let acceptor = tls.acceptor().clone();
                tokio::spawn(async move {
                    // The handshake gets the same bound as a request head: a client
                    // that stalls in it holds a task and a socket, nothing more, and
                    // not for long.
                    match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, app, in_flight, header_read_timeout, watcher).await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::info!("stopped accepting connections; finishing in-flight requests");
    graceful.shutdown().await;
    drop(in_flight);
    let _ = handlers_done.recv().await;
    Ok(())
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    in_flight: tokio::sync::mpsc::Sender<()>,
    header_read_timeout: Duration,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
                Err(_) => Ok(crate::ApiError(portcullis_core::error::OAuthError::server_error("request task failed"))
                    .into_response()),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).max_buf_size(MAX_HEAD_BYTES);
    if let Err(e) = watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
