//! The tracing output of every server this test binary starts, at debug level, kept
//! in memory so that the secret scanner (`secret_scan.rs`) can read it: one global
//! subscriber, installed by the harness before the first server starts. The test
//! client's own transport crates (reqwest, hyper's client) stay at info: what is
//! scanned is what the server would write to its log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Debug for the server's crates, info for transport and driver chatter (sqlx's
/// statement log names SQL text and never bound values).
const FILTER: &str = "debug,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info,sqlx=info,tower=info,tower_http=debug,\
    fantoccini=info,tungstenite=info,tokio_tungstenite=info";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

fn buffer() -> &'static Buffer {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(FILTER))
            .with_writer(buffer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this binary");
        buffer
    })
}

/// Installs the capture (once per binary).
pub fn install() {
    buffer();
}

/// Everything logged so far, by every server of this binary.
pub fn captured() -> String {
    String::from_utf8_lossy(&buffer().0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}
