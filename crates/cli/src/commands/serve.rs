use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_core::authority::Authority;
use portcullis_core::clock::SystemClock;
use portcullis_core::public_url;
use portcullis_core::store::Store;
use portcullis_server::{AppState, HttpSettings};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, GlobalArgs, LogFormat, ServeArgs};

fn init_logging(config: &Config) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(&config.log_level).map_err(|e| format!("invalid log filter '{}': {e}", config.log_level))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|e| format!("cannot start logging: {e}"))
}

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), String> {
    let config = Config::resolve(global, args)?;
    init_logging(&config)?;
    let store = super::connect(&config).await?;
    let listener =
        TcpListener::bind(config.bind).await.map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = resolve_public_url(&config, store.as_ref(), local).await?;
    let authority = Authority::new(store.clone(), Arc::new(SystemClock), &public_url)
        .await
        .map_err(|e| format!("cannot start: {e}"))?
        .with_sign_in_failures_per_address(config.sign_in_failures_per_address)
        .with_pending_limits(config.pending_limits);
    let authority = Arc::new(authority);
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
            ..Default::default()
        }),
    };
    tracing::info!(addr = %local, public_url, database = store.backend(), "listening");
    // Every instance purges: the store makes concurrent passes safe. Aborted at
    // shutdown; a batch cut short rolls back and is done again by the next pass.
    let purge = (!config.purge_interval.is_zero()).then(|| {
        tokio::spawn(portcullis_core::purge::run_keeping_audit(
            store.clone(),
            Arc::new(SystemClock),
            config.purge_interval,
            portcullis_core::purge::DEFAULT_BATCH_SIZE,
            config.audit_retention,
        ))
    });
    let served = portcullis_server::serve(listener, state, shutdown_signal()).await;
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
    if let Err(e) = usage.flush(store.as_ref()).await {
        tracing::warn!(error = %e, "could not record the last API key uses");
    }
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
