use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_core::authority::Authority;
use portcullis_core::clock::SystemClock;
use portcullis_core::public_url;
use portcullis_core::store::Store;
use portcullis_server::metrics::{Metrics, TABLE_SIZES_INTERVAL, serve_metrics};
use portcullis_server::{AppState, HttpSettings};
use tokio::net::TcpListener;

use crate::config::{Config, GlobalArgs, ServeArgs};

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), String> {
    let config = Config::resolve(global, args)?;
    let traces = crate::telemetry::init(&config)?;
    let store = super::connect(&config).await?;
    // A span per storage call only while traces are exported: otherwise no wrapper.
    let store = if traces.enabled() { portcullis_store::traced::traced(store) } else { store };
    let listener =
        TcpListener::bind(config.bind).await.map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let metrics_listener = match config.metrics_addr {
        None => None,
        Some(addr) => {
            Some(TcpListener::bind(addr).await.map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?)
        }
    };
    let metrics = metrics_listener.as_ref().map(|_| Arc::new(Metrics::new()));
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = resolve_public_url(&config, store.as_ref(), local).await?;
    let authority = Authority::new(store.clone(), Arc::new(SystemClock), &public_url)
        .await
        .map_err(|e| format!("cannot start: {e}"))?
        .with_sign_in_failures_per_address(config.sign_in_failures_per_address)
        .with_pending_limits(config.pending_limits);
    let counted: Arc<dyn portcullis_core::metrics::Metrics> = match &metrics {
        Some(m) => m.clone(),
        None => Arc::new(portcullis_core::metrics::NoMetrics),
    };
    let authority = Arc::new(authority.with_metrics(counted.clone()));
    let usage = authority.api_key_usage.clone();
    let usage_task = tokio::spawn(portcullis_core::api_key_usage::run(
        usage.clone(),
        store.clone(),
        portcullis_core::api_key_usage::FLUSH_INTERVAL,
    ));
    let state = AppState {
        authority,
        settings: Arc::new(HttpSettings {
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            trusted_proxies: config.trusted_proxies.clone(),
            ..Default::default()
        }),
        metrics: metrics.clone(),
    };
    tracing::info!(addr = %local, public_url, database = store.backend(), "listening");
    let metrics_task = metrics_listener.zip(metrics).map(|(l, m)| {
        let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(addr, "serving metrics at /metrics");
        tokio::spawn(serve_metrics(l, m, store.clone(), TABLE_SIZES_INTERVAL, std::future::pending()))
    });
    // Every instance purges: the store makes concurrent passes safe. Aborted at
    // shutdown; a batch cut short rolls back and is done again by the next pass.
    let purge = (!config.purge_interval.is_zero()).then(|| {
        tokio::spawn(portcullis_core::purge::run_counted(
            store.clone(),
            Arc::new(SystemClock),
            config.purge_interval,
            portcullis_core::purge::DEFAULT_BATCH_SIZE,
            counted,
        ))
    });
    let served = portcullis_server::serve(listener, state, shutdown_signal()).await;
    if let Some(purge) = purge {
        purge.abort();
    }
    usage_task.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    if let Err(e) = usage.flush(store.as_ref()).await {
        tracing::warn!(error = %e, "could not record the last API key uses");
    }
    // Sends the last batch of spans; it blocks on the exporter's thread, so not here.
    let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    served.map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// The public URL every realm's issuer starts with (`portcullis_core::public_url`),
/// with the warnings an operator needs when it is probably not what clients reach.
async fn resolve_public_url(config: &Config, store: &dyn Store, local: SocketAddr) -> Result<String, String> {
    let from_bind = format!("http://{local}");
    let resolved = public_url::resolve(store, config.public_url.as_deref(), &from_bind, config.bind.port() != 0)
        .await
        .map_err(|e| format!("cannot read the stored public URL: {e}"))?;
    if let Some(stored) = &resolved.stored_differs {
        tracing::warn!(
            public_url = resolved.url,
            stored,
            "--public-url differs from the public URL stored in the database: instances started without \
             --public-url issue tokens under the stored one (change it with `portcullis public-url set`)"
        );
    }
    if config.public_url.is_none() && resolved.url == from_bind && !local.ip().is_loopback() {
        tracing::warn!(
            public_url = resolved.url,
            "listening on a non-loopback address with no public URL configured: issuers are derived from \
             the bind address, which clients probably do not reach; set --public-url or run \
             `portcullis public-url set URL`"
        );
    }
    Ok(resolved.url)
}

/// SIGINT or SIGTERM: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
