//! The one TLS configuration of hookwarden's own HTTP calls (the Knox certificate API, and the
//! CLI): rustls with aws-lc-rs and the system's root certificates, the same stack the AWS SDK
//! uses, so the binaries carry one crypto provider and one set of roots.

use std::sync::Arc;

/// A `reqwest` client builder on that configuration.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(client_config())
}

fn client_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    // A bundle file that cannot be read is reported in `errors` and skipped, as the SDK does;
    // with no roots at all every HTTPS call fails with an unknown-issuer error naming the host.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports TLS 1.2 and 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth()
}
