use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_core::authority::Authority;
use portcullis_core::clock::SystemClock;
use portcullis_core::public_url;
use portcullis_core::rate_limit::RateLimiter;
use portcullis_core::store::Store;
use portcullis_server::metrics::{Metrics, TABLE_SIZES_INTERVAL, serve_metrics};
use portcullis_server::{AppState, HttpSettings, RateLimits};
use tokio::net::TcpListener;

use crate::config::{Config, GlobalArgs, ServeArgs};

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), String> {
    let config = Config::resolve(global, args)?;
    let traces = crate::telemetry::init(&config)?;
    // Before the database: a bad certificate path fails fast, touching nothing.
    let tls =
        config.tls.as_ref().map(|(cert, key)| portcullis_server::Tls::load(cert, key).map(Arc::new)).transpose()?;
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = resolve_public_url(&config, store.as_ref(), local, scheme).await?;
    let authority = Authority::new(store.clone(), Arc::new(SystemClock), &public_url)
        .await
        .map_err(|e| format!("cannot start: {e}"))?
        .with_sign_in_failures_per_address(config.sign_in_failures_per_address)
        .with_pending_limits(config.pending_limits)
        .with_client_auth_failures_per_address(config.client_auth_failures_per_address)
        .with_audit_client_credentials(config.audit_client_credentials)
        .with_client_rate_limit(config.rate_limits.per_client.map(RateLimiter::new));
    let counted: Arc<dyn portcullis_core::metrics::Metrics> = match &metrics {
        Some(m) => m.clone(),
        None => Arc::new(portcullis_core::metrics::NoMetrics),
    };
    let authority = Arc::new(authority.with_metrics(counted.clone()));
    let usage = authority.api_key_usage.clone();
    let audit = authority.audit.clone();
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
            rate_limits: Arc::new(RateLimits::new(
                config.rate_limits.per_address,
                config.rate_limits.admin_per_address,
                config.rate_limits.admin_per_token,
            )),
            ..Default::default()
        }),
        metrics: metrics.clone(),
    };
    let header_read_timeout = state.settings.header_read_timeout;
    let reload = tls.clone().map(reload_on_hangup).transpose()?;
    tracing::info!(addr = %local, public_url, database = store.backend(), tls = tls.is_some(), "listening");
    let metrics_task = metrics_listener.zip(metrics).map(|(l, m)| {
        let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(addr, "serving metrics at /metrics");
        let every = TABLE_SIZES_INTERVAL;
        tokio::spawn(serve_metrics(l, m, store.clone(), every, header_read_timeout, std::future::pending()))
    });
    // Every instance purges: the store makes concurrent passes safe. Aborted at
    // shutdown; a batch cut short rolls back and is done again by the next pass.
    let purge = (!config.purge_interval.is_zero()).then(|| {
        tokio::spawn(portcullis_core::purge::run_with(
            store.clone(),
            Arc::new(SystemClock),
            config.purge_interval,
            portcullis_core::purge::DEFAULT_BATCH_SIZE,
            config.audit_retention,
            counted,
        ))
    });
    let served = portcullis_server::serve_with(listener, state, tls, shutdown_signal()).await;
    if let Some(reload) = reload {
        reload.abort();
    }
    if let Some(purge) = purge {
        purge.abort();
    }
    // Every request has ended: what they audited is written before exiting.
    audit.flush().await;
    let lost = audit.stats();
    if lost.dropped + lost.lost > 0 {
        tracing::warn!(dropped = lost.dropped, lost = lost.lost, "audit events that never reached the database");
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
async fn resolve_public_url(
    config: &Config,
    store: &dyn Store,
    local: SocketAddr,
    scheme: &str,
) -> Result<String, String> {
    let from_bind = format!("{scheme}://{local}");
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

/// SIGHUP: read the certificate and key again; new connections get the new ones,
/// established connections keep theirs. The handler is installed before this returns,
/// so a SIGHUP sent once the server says "listening" never meets the default action
/// (which ends the process).
fn reload_on_hangup(tls: Arc<portcullis_server::Tls>) -> Result<tokio::task::JoinHandle<()>, String> {
    #[cfg(unix)]
    {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| format!("cannot listen for SIGHUP (TLS certificate reload): {e}"))?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded; still serving the previous one")
                    }
                }
            }
        }))
    }
    #[cfg(not(unix))]
    Ok(tokio::spawn(async move { drop(tls) }))
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
