//! `serve --tls-cert --tls-key`: HTTPS on a self-signed certificate, replaced on
//! SIGHUP without a restart and without dropping established connections; bad files
//! are a clear start-up error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::{Workspace, serve_with};

struct SelfSigned {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn self_signed() -> SelfSigned {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    SelfSigned { cert_pem: c.cert.pem(), key_pem: c.signing_key.serialize_pem(), der: c.cert.der().to_vec() }
}

fn write(dir: &Path, cert: &SelfSigned) -> (PathBuf, PathBuf) {
    let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    (cert_path, key_path)
}

/// Connections trusting `cert` only, on rustls and aws-lc-rs like the server.
struct Trusting(tokio_rustls::TlsConnector);

fn client_trusting(cert: &SelfSigned) -> Trusting {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert.der.clone())).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Trusting(tokio_rustls::TlsConnector::from(Arc::new(tls)))
}

type Connection = hyper::client::conn::http1::SendRequest<String>;

impl Trusting {
    /// A new HTTPS connection to `addr`: fails if the server's certificate is not the
    /// trusted one.
    async fn connect(&self, addr: &str) -> Result<Connection, std::io::Error> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = self.0.connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        Ok(sender)
    }

    async fn healthz(&self, addr: &str) -> Result<u16, std::io::Error> {
        healthz(&mut self.connect(addr).await?, addr).await
    }
}

async fn healthz(conn: &mut Connection, addr: &str) -> Result<u16, std::io::Error> {
    let request = hyper::Request::get("/healthz").header("host", addr).body(String::new()).unwrap();
    let response = conn.send_request(request).await.map_err(std::io::Error::other)?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn https_serves_the_certificate_and_sighup_replaces_it_for_new_connections() {
    let w = Workspace::new();
    let first = self_signed();
    let (cert_path, key_path) = write(w.dir.path(), &first);
    let args =
        ["--bind", "127.0.0.1:0", "--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()];
    let (mut server, base, _) = serve_with(&w, &args);
    let addr = base.strip_prefix("http://").unwrap().to_owned();

    let trusts_first = client_trusting(&first);
    assert_eq!(trusts_first.healthz(&addr).await.unwrap(), 200);
    let mut established = trusts_first.connect(&addr).await.unwrap();
    assert_eq!(healthz(&mut established, &addr).await.unwrap(), 200);
    // Plain HTTP on the TLS port gets no answer.
    assert!(reqwest::Client::new().get(format!("http://{addr}/healthz")).send().await.is_err());

    let second = self_signed();
    write(w.dir.path(), &second);
    let trusts_second = client_trusting(&second);
    assert!(client_trusting(&second).healthz(&addr).await.is_err(), "the new certificate is served before the reload");
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while trusts_second.healthz(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "the new certificate was never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // New connections present the new certificate only (a fresh client: one that
    // resumes its TLS session is not shown a certificate again)...
    assert!(client_trusting(&first).healthz(&addr).await.is_err());
    // ...while the connection established before the reload still answers.
    assert_eq!(healthz(&mut established, &addr).await.unwrap(), 200);

    // A reload from broken files keeps the certificate in use.
    std::fs::write(&key_path, "not a key").unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(trusts_second.healthz(&addr).await.unwrap(), 200);
    assert!(server.0.try_wait().unwrap().is_none(), "SIGHUP ended the server");
}

#[test]
fn bad_tls_files_are_a_clear_start_up_error() {
    let w = Workspace::new();
    let good = self_signed();
    let (cert, key) = write(w.dir.path(), &good);
    let missing = w.dir.path().join("missing.pem");
    let other_key = w.dir.path().join("other.key");
    std::fs::write(&other_key, self_signed().key_pem).unwrap();
    let (cert, key, missing, other_key) =
        (cert.to_str().unwrap(), key.to_str().unwrap(), missing.to_str().unwrap(), other_key.to_str().unwrap());
    fn serve<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        [&["serve", "--bind", "127.0.0.1:0"][..], extra].concat()
    }
    w.refused(&serve(&["--tls-cert", missing, "--tls-key", key]), "cannot read TLS certificate");
    w.refused(&serve(&["--tls-cert", cert, "--tls-key", missing]), "cannot read TLS key");
    w.refused(&serve(&["--tls-cert", key, "--tls-key", key]), "holds no PEM CERTIFICATE");
    w.refused(&serve(&["--tls-cert", cert, "--tls-key", other_key]), "does not fit certificate");
    w.refused(&serve(&["--tls-cert", cert]), "--tls-cert and --tls-key go together");
}
