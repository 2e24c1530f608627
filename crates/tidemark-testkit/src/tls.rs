//! Certificates for HTTPS tests: a throwaway certificate authority that issues server
//! certificates for `127.0.0.1` and `localhost`, written as PEM files the server's
//! `--tls-cert/--tls-key` (or [`tidemark_server::TlsConfig`]) read.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A test certificate authority; trust [`TestCa::pem`] in the client under test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// Where a server certificate and its key were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert_path: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key_path: PathBuf,
}

impl CertFiles {
    /// The server binary's arguments serving these files.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert_path.display().to_string(),
            "--tls-key".into(),
            self.key_path.display().to_string(),
        ]
    }

    /// The library configuration serving these files.
    pub fn config(&self) -> tidemark_server::TlsConfig {
        tidemark_server::TlsConfig {
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
        }
    }
}

impl TestCa {
    /// A new authority named `name`. Panics on failure (a test fixture).
    pub fn new(name: &str) -> Self {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("TestCa: {e}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("TestCa: {e}"));
        let issuer = CertifiedIssuer::self_signed(params, key)
            .unwrap_or_else(|e| panic!("TestCa: cannot sign: {e}"));
        Self { issuer }
    }

    /// The authority's certificate (PEM), to trust in clients.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Issues a server certificate for `127.0.0.1` and `localhost` and writes it and its key
    /// to `<dir>/<name>.crt` and `<dir>/<name>.key`.
    pub fn issue(&self, dir: &Path, name: &str) -> CertFiles {
        let files = CertFiles {
            cert_path: dir.join(format!("{name}.crt")),
            key_path: dir.join(format!("{name}.key")),
        };
        self.issue_to(&files);
        files
    }

    /// Issues a server certificate for `127.0.0.1` and `localhost` over the files of `files`
    /// (e.g. a renewal before a reload).
    pub fn issue_to(&self, files: &CertFiles) {
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap_or_else(|e| panic!("TestCa: {e}"));
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("TestCa: {e}"));
        let cert = params
            .signed_by(&key, &self.issuer)
            .unwrap_or_else(|e| panic!("TestCa: cannot sign: {e}"));
        std::fs::write(&files.cert_path, cert.pem())
            .and_then(|()| std::fs::write(&files.key_path, key.serialize_pem()))
            .unwrap_or_else(|e| panic!("TestCa: cannot write the certificate files: {e}"));
    }

    /// A reqwest client that trusts this authority only.
    pub fn client(&self) -> reqwest::Client {
        let cert = reqwest::Certificate::from_pem(self.pem().as_bytes())
            .unwrap_or_else(|e| panic!("TestCa: {e}"));
        reqwest::Client::builder()
            .tls_certs_only([cert])
            .build()
            .unwrap_or_else(|e| panic!("TestCa: cannot build a client: {e}"))
    }
}
