//! The AWS SDK configuration every adapter is built from: aws-config's credential and region
//! chains (environment first, then the container credentials endpoint, web identity and
//! profiles), `AWS_ENDPOINT_URL[_<SERVICE>]`, FIPS and dual-stack endpoints, over one HTTP
//! client whose trust store is cheap to load.
//!
//! What is set explicitly, and why (docs/design/dependencies.md has the measurements):
//! - A pinned behavior version, so an SDK upgrade cannot change retries or timeouts unseen.
//! - Retries off in the SDK: [`crate::retry`] retries inside the dependency budget and has to
//!   know that the budget ran out on a throttle (answered 503 `throttled` and counted), which
//!   the SDK's retry layer reports only as a timeout.
//! - Stalled-stream protection off (its bookkeeping shows in profiles; every body here is a
//!   few KiB, bounded by the dependency timeout) and checksums only where an operation
//!   requires them (the payload is signed with SHA-256 anyway, so S3 refuses any change).
//! - The trust store: the five roots AWS endpoints chain to (Amazon Root CA 1–4, Starfield
//!   Services G2) rather than the system's ~150, whose parsing was most of a cold start. With
//!   `SSL_CERT_FILE` or `SSL_CERT_DIR` set (a private CA, a TLS-inspecting proxy, the tests'
//!   endpoint) the certificates there are trusted instead, as OpenSSL and the AWS CLI do.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots of Amazon Trust Services' certificate chains, as PEM.
const AWS_ROOTS: &[u8] = include_bytes!("roots/aws.pem");

/// Connecting to an AWS endpoint takes milliseconds; waiting longer only burns the budget.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// S3 closes idle connections after about 20 s; a pooled one older than that is not reused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The variables that replace the compiled-in roots with the certificates they name.
const CA_VARIABLES: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// The behavior version the functions are built and tested against.
pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// Loads the SDK configuration from the environment. No network call: credentials are
/// resolved on the first AWS call (from the environment on Lambda).
pub async fn load(dependency_timeout: Duration) -> SdkConfig {
    configure(aws_config::defaults(behavior_version()), dependency_timeout)
        .load()
        .await
}

/// `loader` with the functions' HTTP client, retry, timeout and stalled-stream settings (what
/// else it sets, such as a test's endpoint and credentials, is kept).
pub fn configure(loader: ConfigLoader, dependency_timeout: Duration) -> ConfigLoader {
    loader
        .http_client(http_client())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(dependency_timeout.min(MAX_CONNECT_TIMEOUT))
                .build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

/// The one HTTP client (rustls on aws-lc-rs, HTTP/1.1, pooled) shared by every service.
pub fn http_client() -> SharedHttpClient {
    let custom_roots = CA_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    let trust = match custom_roots {
        // rustls-native-certs reads the variables' files instead of the system's store.
        true => TrustStore::default(),
        false => TrustStore::empty().with_pem_certificate(AWS_ROOTS),
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a trust store without server names builds");
    aws_smithy_http_client::Builder::new()
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// Whether S3 is reached through an endpoint URL (moto, MinIO, a VPC endpoint's URL): buckets
/// are then addressed in the path, since local emulators serve them there, not as subdomains.
fn s3_endpoint_is_custom(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty())
}

/// S3's client: path-style under an endpoint URL, checksums only when required.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
    let config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(s3_endpoint_is_custom(config))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn secrets_manager(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

pub fn eventbridge(config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(config)
}

/// The clients the functions use, built once at cold start and cheap to clone.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    /// Each AWS operation's time limit, retries included.
    pub timeout: Duration,
}

impl Clients {
    pub fn new(config: &SdkConfig, timeout: Duration) -> Clients {
        Clients {
            s3: s3(config),
            secrets_manager: secrets_manager(config),
            eventbridge: eventbridge(config),
            timeout,
        }
    }

    /// From the environment, as a function's cold start builds them.
    pub async fn from_env(timeout: Duration) -> Clients {
        Clients::new(&load(timeout).await, timeout)
    }

    /// From `loader` (a test's endpoint and credentials) with the functions' settings.
    pub async fn from_loader(loader: ConfigLoader, timeout: Duration) -> Clients {
        Clients::new(&configure(loader, timeout).load().await, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS endpoints chain to Amazon Trust Services (cross-signed by Starfield).
    #[test]
    fn the_compiled_in_roots_are_amazons() {
        use rustls::pki_types::pem::PemObject as _;
        let certificates: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(AWS_ROOTS)
            .collect::<Result<_, _>>()
            .expect("the roots are PEM");
        assert_eq!(certificates.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(certificates);
        assert_eq!((added, ignored), (5, 0));
        let text = String::from_utf8_lossy(AWS_ROOTS);
        assert!(text.matches("-----BEGIN CERTIFICATE-----").count() == 5);
    }
}
