//! HTTPS: rustls on the aws-lc-rs provider (the crypto the JWT signing already uses),
//! with a certificate that can be replaced while serving.
//!
//! The certificate lives behind a resolver that every handshake asks, so [`Tls::reload`]
//! affects the next handshake only: connections already established keep the session
//! they negotiated, and nothing restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The certificate and key files, and the acceptor that serves what they held when
/// last (re)loaded.
pub struct Tls {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCert>,
    acceptor: TlsAcceptor,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("cert", &self.cert_path).field("key", &self.key_path).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8,
    /// PKCS#1 or SEC1). Errors name the file and what is wrong with it.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let current = Arc::new(CurrentCert(RwLock::new(certified_key(cert_path, key_path, &provider)?)));
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot configure TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // The server speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            provider,
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the files again; on success new handshakes use the new certificate. On
    /// failure the one in use stays, so a half-copied file never takes HTTPS down.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = certified_key(&self.cert_path, &self.key_path, &self.provider)?;
        *self.current.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone())
    }
}

fn certified_key(cert_path: &Path, key_path: &Path, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
    let cert_name = cert_path.display();
    let key_name = key_path.display();
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read TLS certificate {cert_name}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("TLS certificate file {cert_name} holds no PEM CERTIFICATE"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| format!("cannot read TLS key {key_name}: {e}"))?;
    let certified = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| format!("TLS key {key_name} does not fit certificate {cert_name}: {e}"))?;
    Ok(Arc::new(certified))
}
