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

/// An SDK error as one line: the service's code and message when it answered, the cause
/// otherwise (no credentials, no connection).
pub fn describe<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{} ({})",
            service.message().unwrap_or("no message"),
            service.code().unwrap_or("no code")
        ),
        None => aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
    }
}
