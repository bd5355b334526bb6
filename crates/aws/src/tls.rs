//! The TLS configuration of the Knox certificate API's client: rustls with aws-lc-rs, trusting Mozilla's root certificates as compiled in by
//! `webpki-roots` — or, when `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, the certificates
//! there instead, as OpenSSL and the AWS SDKs read those variables (a TLS-inspecting proxy's
//! CA, a private endpoint's, a test CA).
//!
//! Compiled-in roots rather than the system's bundle: parsing the bundle's ~150 PEM
//! certificates costs milliseconds of CPU, and both carry the same Mozilla program, which
//! includes the roots Samsung serves under. (The AWS clients trust Amazon's roots only:
//! `crate::sdk`.)

use std::sync::{Arc, OnceLock};

/// Built once per process, shared by every client.
pub(crate) fn client_config() -> &'static Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let chosen = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        let roots = if chosen {
            // rustls-native-certs reads the variables' files instead of the system's store. A
            // file that cannot be read is skipped, as the AWS SDKs do; every HTTPS call then
            // fails with an unknown-issuer error naming the host.
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        } else {
            rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }
        };
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    })
}

#[cfg(test)]
mod tests {
    /// AWS endpoints chain to Amazon Trust Services (cross-signed by Starfield).
    #[test]
    fn the_compiled_in_roots_hold_amazons() {
        let names: Vec<String> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
            .collect();
        for root in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(names.iter().any(|n| n.contains(root)), "{root} is missing");
        }
    }
}
