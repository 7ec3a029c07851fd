//! Prometheus metrics: the registry, what core reports into it (through
//! `portcullis_core::metrics::Metrics`), what the HTTP layer counts ([`requests`]),
//! and the `/metrics` listener with the gauges read at each scrape ([`endpoint`]).
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client): counters
//! are one atomic add; a labelled family is a read lock on its map plus the add; a
//! histogram observation is one short mutex. Label values are fixed strings, route
//! templates, status codes and realm names: never a raw path, client id, username or
//! token, so the number of series stays bounded and nothing secret is exported.

mod endpoint;
mod requests;

use portcullis_core::metrics::SignInFailureReason;
use portcullis_core::model::GrantType;
use portcullis_core::store::{PurgeReport, StoreLoad};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use endpoint::{TABLE_SIZES_INTERVAL, serve_metrics};
pub(crate) use requests::{endpoint_of, record_request};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template (`/realms/{realm}/oauth/token`), or `unmatched`.
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuedLabels {
    realm: String,
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RealmLabels {
    realm: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    realm: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

/// 0.5 ms to 8 s, doubling: the token endpoint answers in about a millisecond, a
/// sign-in (argon2) in tens to hundreds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Every metric Portcullis exports, registered under the prefix `portcullis`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    tokens_issued: Family<IssuedLabels, Counter>,
    refresh_reuse: Family<RealmLabels, Counter>,
    sign_in_failures: Family<SignInLabels, Counter>,
    purge_passes: Family<OutcomeLabels, Counter>,
    purged_rows: Family<TableLabels, Counter>,
    table_rows: Family<TableLabels, Gauge>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_idle: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolLabels, Gauge>,
    queue_depth: Family<QueueLabels, Gauge>,
    queue_capacity: Family<QueueLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("portcullis"),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            tokens_issued: Family::default(),
            refresh_reuse: Family::default(),
            sign_in_failures: Family::default(),
            purge_passes: Family::default(),
            purged_rows: Family::default(),
            table_rows: Family::default(),
            pool_connections: Family::default(),
            pool_idle: Family::default(),
            pool_max: Family::default(),
            queue_depth: Family::default(),
            queue_capacity: Family::default(),
        };
        let r = &mut m.registry;
        r.register("http_requests", "HTTP requests answered, by route template and status", m.requests.clone());
        r.register(
            "http_request_duration_seconds",
            "Time from routing to the response head, by route template",
            m.request_duration.clone(),
        );
        r.register("tokens_issued", "Tokens issued, by realm and grant type", m.tokens_issued.clone());
        r.register(
            "refresh_token_reuse",
            "Spent refresh tokens presented again (their grants were revoked), by realm",
            m.refresh_reuse.clone(),
        );
        r.register("sign_in_failures", "Failed sign-ins, by realm and reason", m.sign_in_failures.clone());
        r.register("purge_passes", "Purge passes, by outcome (ok, error)", m.purge_passes.clone());
        r.register("purged_rows", "Expired rows deleted by the purge, by table", m.purged_rows.clone());
        r.register(
            "table_rows",
            "Rows per table, gathered every minute (PostgreSQL: the statistics' estimate)",
            m.table_rows.clone(),
        );
        r.register("db_pool_connections", "Open connections per sqlx pool", m.pool_connections.clone());
        r.register("db_pool_idle_connections", "Idle connections per sqlx pool", m.pool_idle.clone());
        r.register("db_pool_max_connections", "Most connections per sqlx pool", m.pool_max.clone());
        r.register(
            "db_queue_depth",
            "Jobs waiting for SQLite's writer thread or a PostgreSQL batcher",
            m.queue_depth.clone(),
        );
        r.register("db_queue_capacity", "Most jobs a queue holds before refusing (503)", m.queue_capacity.clone());
        m
    }

    fn set_load(&self, load: &StoreLoad) {
        for p in &load.pools {
            let labels = PoolLabels { pool: p.pool };
            self.pool_connections.get_or_create(&labels).set(i64::from(p.size));
            self.pool_idle.get_or_create(&labels).set(i64::from(p.idle));
            self.pool_max.get_or_create(&labels).set(i64::from(p.max));
        }
        for q in &load.queues {
            let labels = QueueLabels { queue: q.queue };
            self.queue_depth.get_or_create(&labels).set(q.depth as i64);
            self.queue_capacity.get_or_create(&labels).set(q.capacity as i64);
        }
    }

    fn set_table_sizes(&self, sizes: &[(&'static str, i64)]) {
        for (table, rows) in sizes {
            self.table_rows.get_or_create(&TableLabels { table }).set(*rows);
        }
    }

    /// The registry in the OpenMetrics text format.
    fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl portcullis_core::metrics::Metrics for Metrics {
    fn token_issued(&self, realm: &str, grant_type: GrantType) {
        self.tokens_issued
            .get_or_create(&IssuedLabels { realm: realm.to_owned(), grant_type: grant_type.as_str() })
            .inc();
    }

    fn refresh_token_reused(&self, realm: &str) {
        self.refresh_reuse.get_or_create(&RealmLabels { realm: realm.to_owned() }).inc();
    }

    fn sign_in_failed(&self, realm: &str, reason: SignInFailureReason) {
        self.sign_in_failures.get_or_create(&SignInLabels { realm: realm.to_owned(), reason: reason.as_str() }).inc();
    }

    fn purge_pass(&self, outcome: Result<&PurgeReport, ()>) {
        let label = if outcome.is_ok() { "ok" } else { "error" };
        self.purge_passes.get_or_create(&OutcomeLabels { outcome: label }).inc();
        if let Ok(report) = outcome {
            for (table, n) in &report.deleted {
                self.purged_rows.get_or_create(&TableLabels { table }).inc_by(*n);
            }
        }
    }
}
