//! Configuration in two stages: raw values from flags, environment and a TOML file
//! (in that order of precedence), then a validated [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_core::rate_limit::Rate;
use portcullis_server::IpNet;
use serde::Deserialize;

pub const DEFAULT_DATABASE: &str = "sqlite://portcullis.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The TOML file. Every key can also be set by flag or by the environment variable
/// `PORTCULLIS_<KEY IN UPPER CASE>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub bind: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub request_timeout_secs: Option<u64>,
    pub body_limit_bytes: Option<usize>,
    pub sqlite_busy_timeout_ms: Option<u64>,
    pub max_connections: Option<u32>,
    pub sqlite_write_queue: Option<usize>,
    pub database_acquire_timeout_ms: Option<u64>,
    pub database_statement_timeout_ms: Option<u64>,
    pub sqlite_synchronous: Option<String>,
    /// `sign_in_limit_per_address` is its name before failures alone were counted.
    #[serde(alias = "sign_in_limit_per_address")]
    pub sign_in_failures_per_address: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub purge_interval_secs: Option<u64>,
    pub pending_requests_per_session: Option<u32>,
    pub pending_requests_per_address: Option<u32>,
    pub client_auth_failures_per_address: Option<u32>,
    pub rate_limit_per_address: Option<String>,
    pub rate_limit_per_client: Option<String>,
    pub admin_rate_limit_per_address: Option<String>,
    pub admin_rate_limit_per_token: Option<String>,
    pub master_key_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub metrics_addr: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub audit_retention_days: Option<u64>,
    pub audit_client_credentials: Option<bool>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {}", path.display(), e.message()))
    }
}

/// Values given as flags or environment variables (clap resolves those two).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite://FILE or postgres://...
    #[arg(long, global = true, env = "PORTCULLIS_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// TOML configuration file
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format: human or json
    #[arg(long, global = true, env = "PORTCULLIS_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or portcullis_server=debug
    #[arg(long, global = true, env = "PORTCULLIS_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// File holding the master key that seals private keys and the pepper (base64 of
    /// 32 bytes); or set PORTCULLIS_MASTER_KEY to the key itself
    #[arg(long, global = true, env = "PORTCULLIS_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "PORTCULLIS_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Public base URL (issuer prefix); default http://ADDR
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Seconds a request may run before it is answered 408
    #[arg(long, env = "PORTCULLIS_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Largest request body accepted, in bytes
    #[arg(long, env = "PORTCULLIS_BODY_LIMIT_BYTES", value_name = "BYTES")]
    pub body_limit_bytes: Option<usize>,
    /// How long SQLite waits for a lock before answering 503
    #[arg(long, env = "PORTCULLIS_SQLITE_BUSY_TIMEOUT_MS", value_name = "MS")]
    pub sqlite_busy_timeout_ms: Option<u64>,
    /// Database connections per pool
    #[arg(long, env = "PORTCULLIS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,
    /// Most writes waiting for SQLite's writer thread; more are answered 503 at once
    #[arg(long, env = "PORTCULLIS_SQLITE_WRITE_QUEUE", value_name = "N")]
    pub sqlite_write_queue: Option<usize>,
    /// Milliseconds a request waits for a database connection before answering 503
    #[arg(long, env = "PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT_MS", value_name = "MS")]
    pub database_acquire_timeout_ms: Option<u64>,
    /// PostgreSQL statement_timeout in milliseconds (0: none)
    #[arg(long, env = "PORTCULLIS_DATABASE_STATEMENT_TIMEOUT_MS", value_name = "MS")]
    pub database_statement_timeout_ms: Option<u64>,
    /// What an answered SQLite write survives: full (power loss) or normal (process crash)
    #[arg(long, env = "PORTCULLIS_SQLITE_SYNCHRONOUS", value_name = "full|normal")]
    pub sqlite_synchronous: Option<String>,
    /// Log as JSON lines (the same as --log-format json)
    #[arg(long)]
    pub json: bool,
    /// Failed sign-ins allowed from one address, over all accounts, per 15 minutes (0: no
    /// per-address budget)
    #[arg(long, env = "PORTCULLIS_SIGN_IN_FAILURES_PER_ADDRESS", value_name = "N")]
    pub sign_in_failures_per_address: Option<u32>,
    /// The former name of --sign-in-failures-per-address
    #[arg(long, env = "PORTCULLIS_SIGN_IN_LIMIT_PER_ADDRESS", value_name = "N", hide = true)]
    pub sign_in_limit_per_address: Option<u32>,
    /// Proxies whose X-Forwarded-For names the client: IPs or CIDR blocks, comma separated
    #[arg(long, env = "PORTCULLIS_TRUSTED_PROXIES", value_name = "CIDR,...")]
    pub trusted_proxies: Option<String>,
    /// Seconds between purges of expired rows (0: never purge)
    #[arg(long, env = "PORTCULLIS_PURGE_INTERVAL_SECS", value_name = "SECS")]
    pub purge_interval_secs: Option<u64>,
    /// Pending sign-in requests one browser session keeps (its newest)
    #[arg(long, env = "PORTCULLIS_PENDING_REQUESTS_PER_SESSION", value_name = "N")]
    pub pending_requests_per_session: Option<u32>,
    /// Live pending sign-in requests allowed from one address (0: no limit)
    #[arg(long, env = "PORTCULLIS_PENDING_REQUESTS_PER_ADDRESS", value_name = "N")]
    pub pending_requests_per_address: Option<u32>,
    /// Failed client authentications allowed from one address, over all clients of a
    /// realm, per 15 minutes (0: no per-address budget)
    #[arg(long, env = "PORTCULLIS_CLIENT_AUTH_FAILURES_PER_ADDRESS", value_name = "N")]
    pub client_auth_failures_per_address: Option<u32>,
    /// Requests per address at the token, introspection and revocation endpoints, per
    /// instance: N/s, N/min, N/h or off (default)
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_PER_ADDRESS", value_name = "RATE")]
    pub rate_limit_per_address: Option<String>,
    /// Requests per authenticated client at those endpoints, per instance (default off)
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_PER_CLIENT", value_name = "RATE")]
    pub rate_limit_per_client: Option<String>,
    /// Admin API requests per address, per instance (default off)
    #[arg(long, env = "PORTCULLIS_ADMIN_RATE_LIMIT_PER_ADDRESS", value_name = "RATE")]
    pub admin_rate_limit_per_address: Option<String>,
    /// Admin API requests per admin token, per instance (default off)
    #[arg(long, env = "PORTCULLIS_ADMIN_RATE_LIMIT_PER_TOKEN", value_name = "RATE")]
    pub admin_rate_limit_per_token: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP)
    #[arg(long, env = "PORTCULLIS_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "PORTCULLIS_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a listener of its own, never the
    /// public one); off when unset
    #[arg(long, env = "PORTCULLIS_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Export OpenTelemetry traces over OTLP/HTTP (protobuf) to URL/v1/traces; off when unset
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Days audit events are kept before the purge deletes them (0: kept for ever)
    #[arg(long, env = "PORTCULLIS_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u64>,
    /// Audit every client_credentials token as `token.issued` (default true; false
    /// keeps that grant's failures audited and drops only its successes)
    #[arg(long, env = "PORTCULLIS_AUDIT_CLIENT_CREDENTIALS", value_name = "BOOL")]
    pub audit_client_credentials: Option<bool>,
}

/// Request-rate limits (`portcullis_core::rate_limit`), each `None` when off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub per_address: Option<Rate>,
    pub per_client: Option<Rate>,
    pub admin_per_address: Option<Rate>,
    pub admin_per_token: Option<Rate>,
}

/// PostgreSQL: 16 connections. SQLite: one reader per core (at least 2), because each
/// connection is a thread and more of them than cores only adds hand-offs (measured on
/// introspection: bench/README.md, "Profiling").
fn default_pool_size(database_url: &str) -> u32 {
    if database_url.starts_with("sqlite:") {
        std::thread::available_parallelism().map_or(2, |n| n.get() as u32).max(2)
    } else {
        16
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Validated configuration: every field holds a usable value.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Without a trailing slash.
    pub public_url: Option<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub sqlite_busy_timeout: Duration,
    pub max_connections: u32,
    pub sqlite_write_queue: usize,
    pub database_acquire_timeout: Duration,
    /// Zero: no limit.
    pub database_statement_timeout: Duration,
    pub sqlite_synchronous: portcullis_store::SqliteSynchronous,
    pub sign_in_failures_per_address: u32,
    pub trusted_proxies: Vec<IpNet>,
    /// Zero: no purge.
    pub purge_interval: Duration,
    pub pending_limits: portcullis_core::store::PendingLimits,
    pub client_auth_failures_per_address: u32,
    pub rate_limits: RateLimitConfig,
    pub master_key_file: Option<PathBuf>,
    /// Certificate chain and key files: HTTPS when set.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where `/metrics` is served; `None`: metrics off.
    pub metrics_addr: Option<SocketAddr>,
    /// The OTLP/HTTP base URL traces go to (without `/v1/traces`); `None`: no traces.
    pub otlp_endpoint: Option<String>,
    /// Zero: audit events are kept for ever.
    pub audit_retention: Duration,
    /// Whether client_credentials issuance is audited.
    pub audit_client_credentials: bool,
}

impl Config {
    pub fn resolve(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self, String> {
        let file = FileConfig::load(global.config.as_deref())?;
        let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
        let database_url = pick(&global.database, &file.database_url).unwrap_or_else(|| DEFAULT_DATABASE.into());
        let bind_raw = pick(&serve.bind, &file.bind).unwrap_or_else(|| DEFAULT_BIND.into());
        let bind: SocketAddr =
            bind_raw.parse().map_err(|_| format!("invalid bind address '{bind_raw}': expected IP:PORT"))?;
        let public_url =
            pick(&serve.public_url, &file.public_url).map(|u| portcullis_core::public_url::validate(&u)).transpose()?;
        let log_format = match pick(&global.log_format, &file.log_format).as_deref() {
            _ if serve.json => LogFormat::Json,
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("invalid log format '{other}': expected human or json")),
        };
        let log_level = pick(&global.log_level, &file.log_level).unwrap_or_else(|| "info".into());
        let request_timeout_secs = serve.request_timeout_secs.or(file.request_timeout_secs).unwrap_or(30);
        if !(1..=3600).contains(&request_timeout_secs) {
            return Err(format!("request timeout must be 1 to 3600 seconds, got {request_timeout_secs}"));
        }
        let body_limit = serve.body_limit_bytes.or(file.body_limit_bytes).unwrap_or(64 * 1024);
        if !(1024..=16 * 1024 * 1024).contains(&body_limit) {
            return Err(format!("body limit must be 1024 to 16777216 bytes, got {body_limit}"));
        }
        let busy = serve.sqlite_busy_timeout_ms.or(file.sqlite_busy_timeout_ms).unwrap_or(5000);
        let max_connections =
            serve.max_connections.or(file.max_connections).unwrap_or_else(|| default_pool_size(&database_url));
        if !(1..=1000).contains(&max_connections) {
            return Err(format!("max connections must be 1 to 1000, got {max_connections}"));
        }
        let sqlite_synchronous = match pick(&serve.sqlite_synchronous, &file.sqlite_synchronous) {
            None => portcullis_store::SqliteSynchronous::default(),
            Some(v) => portcullis_store::SqliteSynchronous::parse(&v)
                .ok_or_else(|| format!("invalid SQLite synchronous setting '{v}': expected full or normal"))?,
        };
        let sqlite_write_queue = match serve.sqlite_write_queue.or(file.sqlite_write_queue) {
            Some(n) if !(1..=1_000_000).contains(&n) => {
                return Err(format!("SQLite write queue must be 1 to 1000000 writes, got {n}"));
            }
            Some(n) => n,
            None => portcullis_store::DEFAULT_SQLITE_WRITE_QUEUE,
        };
        let database_acquire_timeout = match serve.database_acquire_timeout_ms.or(file.database_acquire_timeout_ms) {
            Some(ms) if !(10..=60_000).contains(&ms) => {
                return Err(format!("database acquire timeout must be 10 to 60000 ms, got {ms}"));
            }
            Some(ms) => Duration::from_millis(ms),
            None => portcullis_store::DEFAULT_ACQUIRE_TIMEOUT,
        };
        let database_statement_timeout =
            match serve.database_statement_timeout_ms.or(file.database_statement_timeout_ms) {
                Some(ms) if ms > 3_600_000 => {
                    return Err(format!("database statement timeout must be 0 to 3600000 ms, got {ms}"));
                }
                Some(ms) => Duration::from_millis(ms),
                None => portcullis_store::DEFAULT_STATEMENT_TIMEOUT,
            };
        let trusted_proxies = match (&serve.trusted_proxies, &file.trusted_proxies) {
            (Some(flag), _) => flag.split(',').filter(|s| !s.trim().is_empty()).map(str::to_owned).collect(),
            (None, Some(list)) => list.clone(),
            (None, None) => Vec::new(),
        }
        .iter()
        .map(|s| s.parse::<IpNet>().map_err(|e| format!("invalid trusted proxy: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
        let purge_interval_secs = serve
            .purge_interval_secs
            .or(file.purge_interval_secs)
            .unwrap_or(portcullis_core::purge::DEFAULT_INTERVAL.as_secs());
        if purge_interval_secs > 86_400 {
            return Err(format!("purge interval must be 0 to 86400 seconds, got {purge_interval_secs}"));
        }
        let per_session = serve
            .pending_requests_per_session
            .or(file.pending_requests_per_session)
            .unwrap_or(portcullis_core::authority::DEFAULT_PENDING_PER_SESSION);
        if !(1..=1000).contains(&per_session) {
            return Err(format!("pending requests per session must be 1 to 1000, got {per_session}"));
        }
        let per_address = serve
            .pending_requests_per_address
            .or(file.pending_requests_per_address)
            .unwrap_or(portcullis_core::authority::DEFAULT_PENDING_PER_ADDRESS);
        let rate = |name: &str, flag: &Option<String>, file: &Option<String>| {
            pick(flag, file).map_or(Ok(None), |v| Rate::parse_optional(&v).map_err(|e| format!("{name}: {e}")))
        };
        let rate_limits = RateLimitConfig {
            per_address: rate("rate limit per address", &serve.rate_limit_per_address, &file.rate_limit_per_address)?,
            per_client: rate("rate limit per client", &serve.rate_limit_per_client, &file.rate_limit_per_client)?,
            admin_per_address: rate(
                "admin rate limit per address",
                &serve.admin_rate_limit_per_address,
                &file.admin_rate_limit_per_address,
            )?,
            admin_per_token: rate(
                "admin rate limit per token",
                &serve.admin_rate_limit_per_token,
                &file.admin_rate_limit_per_token,
            )?,
        };
        let metrics_addr = match pick(&serve.metrics_addr, &file.metrics_addr) {
            None => None,
            Some(raw) => Some(
                raw.parse::<SocketAddr>()
                    .map_err(|_| format!("invalid metrics address '{raw}': expected IP:PORT, e.g. 127.0.0.1:9090"))?,
            ),
        };
        let overlaps = |m: SocketAddr| {
            m.port() != 0
                && m.port() == bind.port()
                && (m.ip() == bind.ip() || m.ip().is_unspecified() || bind.ip().is_unspecified())
        };
        if metrics_addr.is_some_and(overlaps) {
            return Err(format!(
                "the metrics address must not use the public port {}: /metrics is served apart from it",
                bind.port()
            ));
        }
        let otlp_endpoint = pick(&serve.otlp_endpoint, &file.otlp_endpoint).map(|u| otlp_endpoint(&u)).transpose()?;
        let audit_retention_days = serve
            .audit_retention_days
            .or(file.audit_retention_days)
            .unwrap_or(portcullis_core::purge::DEFAULT_AUDIT_RETENTION.as_secs() / 86_400);
        if audit_retention_days > 36_500 {
            return Err(format!("audit retention must be 0 to 36500 days, got {audit_retention_days}"));
        }
        Ok(Self {
            database_url,
            bind,
            public_url,
            log_format,
            log_level,
            request_timeout: Duration::from_secs(request_timeout_secs),
            body_limit,
            sqlite_busy_timeout: Duration::from_millis(busy),
            max_connections,
            sqlite_write_queue,
            database_acquire_timeout,
            database_statement_timeout,
            sqlite_synchronous,
            sign_in_failures_per_address: serve
                .sign_in_failures_per_address
                .or(serve.sign_in_limit_per_address)
                .or(file.sign_in_failures_per_address)
                .unwrap_or(portcullis_core::throttle::PER_ADDRESS),
            trusted_proxies,
            purge_interval: Duration::from_secs(purge_interval_secs),
            pending_limits: portcullis_core::store::PendingLimits { per_session, per_address },
            client_auth_failures_per_address: serve
                .client_auth_failures_per_address
                .or(file.client_auth_failures_per_address)
                .unwrap_or(portcullis_core::client_throttle::PER_ADDRESS),
            rate_limits,
            master_key_file: global.master_key_file.clone().or(file.master_key_file),
            tls: match (serve.tls_cert.clone().or(file.tls_cert), serve.tls_key.clone().or(file.tls_key)) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err("--tls-cert and --tls-key go together: give both or neither".into()),
            },
            metrics_addr,
            otlp_endpoint,
            audit_retention: Duration::from_secs(audit_retention_days * 86_400),
            audit_client_credentials: serve.audit_client_credentials.or(file.audit_client_credentials).unwrap_or(true),
        })
    }
}

/// An OTLP/HTTP base URL: http or https, no query or fragment, kept without a trailing
/// slash (traces go to `{base}/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` means).
fn otlp_endpoint(raw: &str) -> Result<String, String> {
    let bad = |why: &str| format!("invalid OTLP endpoint '{raw}': {why}");
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad("expected an http:// or https:// URL, e.g. http://127.0.0.1:4318"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment is not allowed"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9000\"\nbody_limit_bytes = 2048\nlog_format = \"json\"\n").unwrap();
        let global = GlobalArgs { config: Some(path), ..Default::default() };
        let serve = ServeArgs { bind: Some("127.0.0.1:9001".into()), ..Default::default() };
        let c = Config::resolve(&global, &serve).unwrap();
        assert_eq!(c.bind.port(), 9001);
        assert_eq!(c.body_limit, 2048);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_url, DEFAULT_DATABASE);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let global = GlobalArgs { config: Some(path), ..Default::default() };
        assert!(Config::resolve(&global, &ServeArgs::default()).unwrap_err().contains("bnid"));
        let serve = ServeArgs { bind: Some("nonsense".into()), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).is_err());
        let serve = ServeArgs { public_url: Some("ftp://x".into()), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).is_err());
        let serve = ServeArgs { trusted_proxies: Some("10.0.0.0/8,bogus".into()), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).unwrap_err().contains("bogus"));
    }

    #[test]
    fn sign_in_throttling_settings_and_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "sign_in_limit_per_address = 7\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let global = GlobalArgs { config: Some(path.clone()), ..Default::default() };
        let c = Config::resolve(&global, &ServeArgs::default()).unwrap();
        assert_eq!(c.sign_in_failures_per_address, 7, "the old key still works");
        assert_eq!(c.trusted_proxies, vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]);
        let serve = ServeArgs {
            sign_in_failures_per_address: Some(3),
            trusted_proxies: Some("192.0.2.1, 2001:db8::/32".into()),
            ..Default::default()
        };
        let c = Config::resolve(&global, &serve).unwrap();
        assert_eq!(c.sign_in_failures_per_address, 3);
        assert_eq!(c.trusted_proxies.len(), 2, "flags beat the file");
        let old = ServeArgs { sign_in_limit_per_address: Some(5), ..Default::default() };
        assert_eq!(Config::resolve(&GlobalArgs::default(), &old).unwrap().sign_in_failures_per_address, 5);
        let none = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(none.sign_in_failures_per_address, portcullis_core::throttle::PER_ADDRESS);
        assert!(none.trusted_proxies.is_empty());
        let serve = ServeArgs { sqlite_write_queue: Some(0), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).unwrap_err().contains("write queue"));
        let serve = ServeArgs { database_acquire_timeout_ms: Some(0), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).unwrap_err().contains("acquire timeout"));
    }

    #[test]
    fn the_database_timeouts_and_queue_have_defaults_and_can_be_set() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.sqlite_write_queue, portcullis_store::DEFAULT_SQLITE_WRITE_QUEUE);
        assert_eq!(c.database_acquire_timeout, portcullis_store::DEFAULT_ACQUIRE_TIMEOUT);
        assert_eq!(c.database_statement_timeout, portcullis_store::DEFAULT_STATEMENT_TIMEOUT);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "sqlite_write_queue = 16\ndatabase_statement_timeout_ms = 0\n").unwrap();
        let global = GlobalArgs { config: Some(path), ..Default::default() };
        let serve = ServeArgs { database_acquire_timeout_ms: Some(250), ..Default::default() };
        let c = Config::resolve(&global, &serve).unwrap();
        assert_eq!(c.sqlite_write_queue, 16);
        assert_eq!(c.database_acquire_timeout, Duration::from_millis(250));
        assert_eq!(c.database_statement_timeout, Duration::ZERO);
        let serve = ServeArgs { sqlite_synchronous: Some("off".into()), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &serve).unwrap_err().contains("full or normal"));
    }

    #[test]
    fn sqlite_commits_survive_power_loss_only_when_asked() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.sqlite_synchronous, portcullis_store::SqliteSynchronous::Normal);
        let serve = ServeArgs { sqlite_synchronous: Some("full".into()), ..Default::default() };
        let c = Config::resolve(&GlobalArgs::default(), &serve).unwrap();
        assert_eq!(c.sqlite_synchronous, portcullis_store::SqliteSynchronous::Full);
    }

    #[test]
    fn throttling_and_rate_limits_default_to_failures_only_and_can_be_set() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.client_auth_failures_per_address, portcullis_core::client_throttle::PER_ADDRESS);
        assert_eq!(c.rate_limits, RateLimitConfig::default(), "every request-rate limit is off by default");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "rate_limit_per_client = \"100/s\"\nadmin_rate_limit_per_token = \"off\"\n").unwrap();
        let global = GlobalArgs { config: Some(path), ..Default::default() };
        let serve = ServeArgs {
            rate_limit_per_address: Some("600/min".into()),
            admin_rate_limit_per_address: Some("5".into()),
            client_auth_failures_per_address: Some(0),
            ..Default::default()
        };
        let c = Config::resolve(&global, &serve).unwrap();
        assert_eq!(c.client_auth_failures_per_address, 0);
        assert_eq!(c.rate_limits.per_address, Some("600/min".parse().unwrap()));
        assert_eq!(c.rate_limits.per_client, Some("100/s".parse().unwrap()));
        assert_eq!(c.rate_limits.admin_per_address, Some("5/s".parse().unwrap()));
        assert_eq!(c.rate_limits.admin_per_token, None);
        let bad = ServeArgs { rate_limit_per_client: Some("lots".into()), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &bad).unwrap_err().contains("rate limit per client"));
    }

    #[test]
    fn metrics_and_traces_are_off_unless_configured_and_checked() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!((c.metrics_addr, c.otlp_endpoint), (None, None));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "metrics_addr = \"127.0.0.1:9090\"\notlp_endpoint = \"http://collector:4318/\"\n")
            .unwrap();
        let global = GlobalArgs { config: Some(path), ..Default::default() };
        let c = Config::resolve(&global, &ServeArgs::default()).unwrap();
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        for (bad, says) in [
            (ServeArgs { metrics_addr: Some("9090".into()), ..Default::default() }, "metrics address"),
            (ServeArgs { metrics_addr: Some("127.0.0.1:8080".into()), ..Default::default() }, "public port"),
            (ServeArgs { metrics_addr: Some("0.0.0.0:8080".into()), ..Default::default() }, "public port"),
            (ServeArgs { otlp_endpoint: Some("grpc://x:4317".into()), ..Default::default() }, "OTLP endpoint"),
            (ServeArgs { otlp_endpoint: Some("http://x:4318/?a=b".into()), ..Default::default() }, "query"),
        ] {
            assert!(Config::resolve(&GlobalArgs::default(), &bad).unwrap_err().contains(says), "{says}");
        }
    }

    #[test]
    fn purge_and_pending_request_settings_are_checked() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.purge_interval, Duration::from_secs(60));
        assert_eq!((c.pending_limits.per_session, c.pending_limits.per_address), (32, 1000));
        let off =
            ServeArgs { purge_interval_secs: Some(0), pending_requests_per_address: Some(0), ..Default::default() };
        let c = Config::resolve(&GlobalArgs::default(), &off).unwrap();
        assert!(c.purge_interval.is_zero());
        assert_eq!(c.pending_limits.per_address, 0);
        for bad in [
            ServeArgs { purge_interval_secs: Some(86_401), ..Default::default() },
            ServeArgs { pending_requests_per_session: Some(0), ..Default::default() },
        ] {
            assert!(Config::resolve(&GlobalArgs::default(), &bad).is_err());
        }
    }

    #[test]
    fn audit_retention_defaults_to_90_days_and_is_bounded() {
        let c = Config::resolve(&GlobalArgs::default(), &ServeArgs::default()).unwrap();
        assert_eq!(c.audit_retention, Duration::from_secs(90 * 86_400));
        assert!(c.audit_client_credentials, "client_credentials issuance is audited by default");
        let quiet = ServeArgs { audit_client_credentials: Some(false), ..Default::default() };
        assert!(!Config::resolve(&GlobalArgs::default(), &quiet).unwrap().audit_client_credentials);
        let forever = ServeArgs { audit_retention_days: Some(0), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &forever).unwrap().audit_retention.is_zero());
        let absurd = ServeArgs { audit_retention_days: Some(36_501), ..Default::default() };
        assert!(Config::resolve(&GlobalArgs::default(), &absurd).unwrap_err().contains("audit retention"));
    }
}
