//! The CLI's AWS clients, from the standard configuration chain (environment, profile, SSO
//! cache, instance role), `AWS_ENDPOINT_URL` included so the tests can point them at moto.

use aws_config::BehaviorVersion;

/// An S3 client. With an endpoint URL set (moto, an S3-compatible store), buckets are
/// addressed by path: a loopback address has no per-bucket host names.
pub async fn s3() -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(shared.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// An SDK error as one line, the service's message and code included when it answered.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_s3::error::DisplayErrorContext(err).to_string()
}
