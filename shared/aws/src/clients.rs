//! AWS SDK clients, built at cold start without any network call: credentials come from the
//! environment Lambda sets and are resolved lazily on first use, the region from `AWS_REGION`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// Two attempts: one retry absorbs a transient 5xx or throttle, and both fit in the operation
/// timeout, so a request still gets its 503 inside the Lambda deadline.
const MAX_ATTEMPTS: u32 = 2;
/// Short first backoff: the whole budget is a few seconds.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Connecting to an AWS endpoint takes milliseconds; waiting longer only burns the budget.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The standard configuration chain (environment, profile; `AWS_ENDPOINT_URL` and the
/// service-specific `AWS_ENDPOINT_URL_<SERVICE>` included) with hookwarden's time limits:
/// `dependency_timeout` bounds each operation, retries included.
pub fn loader(dependency_timeout: Duration) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(dependency_timeout.min(MAX_CONNECT_TIMEOUT))
                .operation_attempt_timeout(dependency_timeout)
                .operation_timeout(dependency_timeout)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF),
        )
}

/// Service clients sharing one configuration. Cloning a client is cheap (it is an `Arc`).
#[derive(Clone, Debug)]
pub struct Clients {
    config: SdkConfig,
}

impl Clients {
    /// Loads the configuration from the environment ([`loader`]).
    pub async fn load(dependency_timeout: Duration) -> Self {
        Self::new(loader(dependency_timeout).load().await)
    }

    pub fn new(config: SdkConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// Path-style addressing when an endpoint is overridden: local S3 emulators (moto,
    /// MinIO) serve buckets under the path, not as DNS subdomains of `127.0.0.1`.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let custom_endpoint = self.config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(custom_endpoint)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }
}
