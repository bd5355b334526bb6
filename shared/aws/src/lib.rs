//! The thin AWS layer around `hookwarden-pipeline`: adapters for its ports (S3, Secrets
//! Manager, EventBridge, the Knox certificate API) on hookwarden's own AWS client (signed by
//! the SDK's `aws-sigv4`), settings from the environment, JSON logging and the Lambda
//! entrypoint.

pub mod client;
pub mod eventbridge;
pub mod function_url;
mod https;
pub mod knox_api;
pub mod lambda;
pub mod logging;
pub mod runtime_api;
pub mod s3;
pub mod secrets_manager;
pub mod settings;
pub mod sigv4;
pub mod tenants;
pub mod tls;
pub mod wire;

pub use client::AwsClient;
pub use eventbridge::EventBridgeBus;
pub use knox_api::KnoxApi;
pub use s3::S3Store;
pub use secrets_manager::SecretsManagerSource;
pub use settings::{ProviderSettings, Settings, SettingsError, SinkSettings};

/// `localhost` or a loopback address (`127.0.0.1`, `[::1]`): where plain HTTP is allowed,
/// for local emulators and test servers.
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How many causes of an error are worth printing.
const MAX_CAUSES: usize = 8;

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
