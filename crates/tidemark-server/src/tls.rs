//! HTTPS served by the binary itself (`--tls-cert/--tls-key`): the certificate chain and key are
//! read from PEM files at start and again on every SIGHUP, so a renewed certificate (e.g. by an
//! ACME client) is picked up without dropping a connection.
//!
//! [`CertResolver`] holds the current [`CertifiedKey`] behind a lock and hands it to every new
//! handshake; a reload builds the new one completely (chain parsed, key parsed and checked
//! against the certificate) before swapping it in, so a failed reload keeps the old one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where the certificate chain and private key of HTTPS serving are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert_path: PathBuf,
    /// The private key of the leaf certificate (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_path: PathBuf,
}

/// Why the certificate or key cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or holds no usable PEM block.
    #[error("cannot read {what} from {}: {reason}", path.display())]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong (I/O, bad PEM, no block of that kind).
        reason: String,
    },
    /// The key cannot be used (unsupported algorithm) or does not belong to the certificate.
    #[error("the private key in {} does not fit the certificate in {}: {reason}", key.display(), cert.display())]
    Key {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
    /// The TLS server configuration cannot be built.
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl TlsConfig {
    /// Reads and checks the certificate chain and key.
    pub fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let chain = CertificateDer::pem_file_iter(&self.cert_path)
            .map_err(pem_error("certificate", &self.cert_path))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error("certificate", &self.cert_path))?;
        if chain.is_empty() {
            return Err(TlsError::Pem {
                what: "certificate",
                path: self.cert_path.clone(),
                reason: "no CERTIFICATE block".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_path)
            .map_err(pem_error("private key", &self.key_path))?;
        CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Key {
            cert: self.cert_path.clone(),
            key: self.key_path.clone(),
            reason: e.to_string(),
        })
    }
}

/// A closure turning a PEM error on `path` into [`TlsError::Pem`].
fn pem_error<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + 'a {
    move |e| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Hands the current certificate to every handshake; [`reload`](Self::reload) swaps in a new one.
#[derive(Debug)]
pub struct CertResolver {
    config: TlsConfig,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// Loads the certificate and key of `config`; an error if they cannot be used.
    pub fn new(config: TlsConfig, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let key = config.load(&provider)?;
        Ok(Self {
            config,
            provider,
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again and, when they are usable, serves them to the next handshakes;
    /// on an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Arc::new(self.config.load(&self.provider)?);
        // A poisoned lock only means a panic elsewhere; the value inside is still whole.
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
        Ok(())
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls server configuration for `resolver`: HTTP/1.1 only (ALPN), TLS 1.2 and 1.3.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::clone(&resolver.provider);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The crypto provider the server's TLS runs on (aws-lc-rs, as the PostgreSQL client's).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reloads `resolver` on every SIGHUP for as long as the returned task runs (abort it to stop);
/// a failed reload is logged and the old certificate stays. Without SIGHUP (not Unix), nothing.
pub fn reload_on_sighup(resolver: Arc<CertResolver>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    log::error!("cannot listen for SIGHUP; the certificate will not reload: {e}");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                match resolver.reload() {
                    Ok(()) => log::info!(
                        "SIGHUP: reloaded the TLS certificate from {}",
                        resolver.config.cert_path.display()
                    ),
                    Err(e) => log::error!("SIGHUP: keeping the current TLS certificate: {e}"),
                }
            }
        }
        #[cfg(not(unix))]
        drop(resolver);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsConfig {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let config = TlsConfig {
            cert_path: dir.join(format!("{name}.crt")),
            key_path: dir.join(format!("{name}.key")),
        };
        std::fs::write(&config.cert_path, cert.pem()).expect("write cert");
        std::fs::write(&config.key_path, key.serialize_pem()).expect("write key");
        config
    }

    #[test]
    fn a_pair_loads_and_a_mismatched_or_missing_one_says_why() {
        let dir = tempfile::tempdir().expect("dir");
        let a = write_pair(dir.path(), "a");
        let b = write_pair(dir.path(), "b");
        assert!(a.load(&provider()).is_ok());
        let mixed = TlsConfig {
            cert_path: a.cert_path.clone(),
            key_path: b.key_path.clone(),
        };
        let e = mixed.load(&provider()).expect_err("mismatch");
        assert!(matches!(e, TlsError::Key { .. }), "{e}");
        let missing = TlsConfig {
            cert_path: dir.path().join("nope.crt"),
            key_path: a.key_path.clone(),
        };
        let e = missing.load(&provider()).expect_err("missing");
        assert!(e.to_string().contains("nope.crt"), "{e}");
        let swapped = TlsConfig {
            cert_path: a.key_path.clone(),
            key_path: a.cert_path.clone(),
        };
        assert!(swapped.load(&provider()).is_err());
    }

    #[test]
    fn a_failed_reload_keeps_the_old_certificate() {
        let dir = tempfile::tempdir().expect("dir");
        let a = write_pair(dir.path(), "a");
        let resolver = CertResolver::new(a.clone(), provider()).expect("load");
        let before = resolver.current().cert.clone();
        std::fs::write(&a.cert_path, "garbage").expect("write");
        assert!(resolver.reload().is_err());
        assert_eq!(resolver.current().cert, before);
        let fresh = write_pair(dir.path(), "fresh");
        std::fs::copy(&fresh.cert_path, &a.cert_path).expect("copy");
        std::fs::copy(&fresh.key_path, &a.key_path).expect("copy");
        resolver.reload().expect("reload");
        assert_ne!(resolver.current().cert, before);
    }
}
