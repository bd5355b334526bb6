//! A test certificate authority for loopback TLS endpoints: a CA certificate written to a PEM
//! file (what a client is told to trust, through `SSL_CERT_FILE` or `AWS_CA_BUNDLE`) and a
//! server certificate it signed for `localhost` and `127.0.0.1`. Generated per run, never
//! trusted by anything but the processes a test points at it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating the test certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("writing the test CA to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("building the TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The names the server certificate holds.
const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

pub struct TestCa {
    ca_pem: PathBuf,
    server: Arc<rustls::ServerConfig>,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// A fresh CA (ECDSA P-256) and a server certificate it signed.
    pub fn generate() -> Result<TestCa, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = name("hookwarden test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key)?;

        let server_key = KeyPair::generate()?;
        let mut server_params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())?;
        server_params.distinguished_name = name("localhost");
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // Python's ssl (X509 strict checks) wants the issuer's key named in the certificate.
        server_params.use_authority_key_identifier_extension = true;
        let server_cert = server_params.signed_by(&server_key, &ca, &ca_key)?;

        let dir = tempfile::tempdir().map_err(|source| TlsError::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let ca_pem = dir.path().join("test-ca.pem");
        std::fs::write(&ca_pem, ca.pem()).map_err(|source| TlsError::Write {
            path: ca_pem.clone(),
            source,
        })?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)?;
        Ok(TestCa {
            ca_pem,
            server: Arc::new(server),
            _dir: dir,
        })
    }

    /// The CA certificate, PEM: the file a client trusts.
    pub fn ca_pem(&self) -> &Path {
        &self.ca_pem
    }

    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}
