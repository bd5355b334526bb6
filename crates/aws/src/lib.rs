//! The thin AWS layer around `hookwarden-pipeline`, by concern:
//! - the Lambda entry: [`lambda`] (function URL events on `lambda_http` over
//!   `lambda_runtime`), [`wire`] (each function's handler from its settings), [`settings`]
//!   and [`logging`];
//! - the AWS adapters for the pipeline's ports, on the AWS SDK: [`sdk`] (one configuration
//!   and HTTP client), [`retry`] (the time budget every call runs in), [`s3`],
//!   [`secrets_manager`], [`eventbridge`] and [`tenants`];
//! - the Knox certificate API's client, on reqwest: [`knox_api`], with its TLS roots in
//!   [`tls`].

#![forbid(unsafe_code)]

pub mod eventbridge;
pub mod knox_api;
pub mod lambda;
pub mod logging;
mod retry;
pub mod s3;
pub mod sdk;
pub mod secrets_manager;
pub mod settings;
pub mod tenants;
pub mod tls;
pub mod wire;

pub use eventbridge::EventBridgeBus;
pub use knox_api::KnoxApi;
pub use s3::S3Store;
pub use sdk::Clients;
pub use secrets_manager::SecretsManagerSource;
pub use settings::{
    KnoxSettings, OneAccessSettings, ProviderSettings, ScalefusionSettings, Settings,
    SettingsError, SinkSettings,
};

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
