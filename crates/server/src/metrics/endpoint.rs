//! The `/metrics` listener: its own address, never the public port, so the numbers
//! (realm names, traffic, table sizes) are for whoever can reach that address only.
//! It is served by the public listener's accept loop (`crate::serve`), with its
//! header read timeout and bounded request head: a private network still holds
//! clients that open connections and never finish a request.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use portcullis_core::store::Store;
use tokio::net::TcpListener;

use super::Metrics;

/// How often the row counts behind `portcullis_table_rows` are gathered: a `count(*)`
/// per table on SQLite is too much for every scrape.
pub const TABLE_SIZES_INTERVAL: Duration = Duration::from_secs(60);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Scraped = (Arc<Metrics>, Arc<dyn Store>);

/// Serves `GET /metrics` on `listener` until `shutdown` resolves, gathering table
/// sizes every `table_sizes_every` meanwhile (the first at once). Anything else on
/// this listener is 404. A connection that has not sent its request head within
/// `header_read_timeout` is closed, as on the public listener.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    table_sizes_every: Duration,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sizes = tokio::spawn(gather_table_sizes(metrics.clone(), store.clone(), table_sizes_every));
    let app = Router::new().route("/metrics", get(scrape)).with_state::<()>((metrics, store));
    let served = crate::serve::serve_app(listener, app, None, header_read_timeout, shutdown).await;
    sizes.abort();
    served
}

/// Pools and queues are read now (in-memory counters); the rest is already counted.
async fn scrape(State((metrics, store)): State<Scraped>) -> impl IntoResponse {
    metrics.set_load(&store.load());
    ([(CONTENT_TYPE, OPENMETRICS)], metrics.encode())
}

async fn gather_table_sizes(metrics: Arc<Metrics>, store: Arc<dyn Store>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.table_sizes().await {
            Ok(sizes) => metrics.set_table_sizes(&sizes),
            Err(e) => tracing::warn!(error = %e, "could not count table rows for /metrics"),
        }
    }
}
