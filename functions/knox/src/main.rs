//! `knox-webhook`: Samsung Knox Webhook Notification callbacks, verified and
//! delivered to S3 and/or EventBridge. Configuration: docs/reference/configuration.md.

use hookwarden_aws::{lambda, wire};
use hookwarden_pipeline::Provider;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (settings, clients) = wire::cold_start(Provider::Knox).await;
    let handler = wire::handler(&settings, &clients);
    lambda::run(handler, settings.max_body_bytes).await
}
