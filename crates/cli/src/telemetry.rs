//! Logging, and OpenTelemetry traces when an OTLP endpoint is configured: every span
//! that passes the log filter (a request's, and with `portcullis_store::traced` each
//! storage call's) is exported over OTLP/HTTP with protobuf bodies, in batches, from
//! the SDK's own thread. HTTP rather than gRPC keeps tonic and its stack out of the
//! binary (see README, "Traces").

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

/// The exporter of traces, if any: `shutdown` sends what is still batched.
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    pub fn shutdown(self) {
        if let Some(provider) = self.0
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "could not send the last traces");
        }
    }
}

/// Starts logging to stderr and, with `otlp_endpoint` set, exporting traces.
pub fn init(config: &Config) -> Result<Traces, String> {
    let filter =
        || EnvFilter::try_new(&config.log_level).map_err(|e| format!("invalid log filter '{}': {e}", config.log_level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let fmt = match config.log_format {
        LogFormat::Human => fmt.with_filter(filter()?).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter()?).boxed(),
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![fmt];
    let provider = match &config.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let provider = tracer_provider(endpoint)?;
            let tracer = provider.tracer("portcullis");
            layers.push(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(filter()?).boxed());
            Some(provider)
        }
    };
    tracing_subscriber::registry().with(layers).try_init().map_err(|e| format!("cannot start logging: {e}"))?;
    Ok(Traces(provider))
}

fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()
        .map_err(|e| format!("cannot export traces to {endpoint}: {e}"))?;
    let resource = Resource::builder().with_service_name("portcullis").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}
