//! The thin AWS layer around `hookwarden-pipeline`: adapters for its ports (S3, Secrets
//! Manager, EventBridge, the Knox certificate API), settings from the environment, SDK client
//! construction, JSON logging and the Lambda entrypoint.

pub mod clients;
pub mod eventbridge;
pub mod knox_api;
pub mod lambda;
pub mod logging;
pub mod s3;
pub mod secrets_manager;
pub mod settings;
pub mod tls;
pub mod wire;

pub use clients::Clients;
pub use eventbridge::EventBridgeBus;
pub use knox_api::KnoxApi;
pub use s3::S3Store;
pub use secrets_manager::SecretsManagerSource;
pub use settings::{ProviderSettings, Settings, SettingsError, SinkSettings};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use hookwarden_pipeline::ports::DependencyError;

/// How many causes of an error are worth printing.
const MAX_CAUSES: usize = 8;

/// An SDK error as a [`DependencyError`]: the service's error code, message and HTTP status,
/// or the chain of causes ("dispatch failure: io error: … Connection refused"). The SDK's
/// `Display` stops at the outermost layer, and its `Debug` dumps whole responses.
/// (Every SDK crate re-exports the same `SdkError` and `HttpResponse`.)
pub(crate) fn dependency_error<E>(
    dependency: &'static str,
    operation: &str,
    err: SdkError<E, HttpResponse>,
) -> DependencyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match err.as_service_error() {
        Some(service) => format!(
            "{} (HTTP {}): {}",
            service.code().unwrap_or("no error code"),
            err.raw_response().map_or(0, |raw| raw.status().as_u16()),
            service.message().unwrap_or("no message"),
        ),
        None => causes(&err),
    };
    DependencyError::new(dependency, format_args!("{operation}: {detail}"))
}

/// `err` and its sources, joined with ": ", each layer once.
pub(crate) fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(layer) = current.filter(|_| parts.len() < MAX_CAUSES) {
        let text = layer.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = layer.source();
    }
    parts.join(": ")
}
