//! AWS clients for the commands that talk to an account (`replay`, `streams`), built from
//! the SDK's standard chain: credentials, region and endpoint from the environment and profile,
//! `AWS_ENDPOINT_URL` included (what the tests point at moto).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub async fn config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Path-style addressing when an endpoint is configured: S3 look-alikes on a host name that
/// has no per-bucket subdomains (moto, MinIO) need it.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    let config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// One attempt per call: the caller retries the entries that failed (a PutEvents call can
/// half succeed), with its own backoff and count.
pub fn eventbridge(config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(config)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}
