//! `knox-webhook`: Samsung Knox Webhook Notification callbacks, verified and
//! delivered to S3 and/or EventBridge. Configuration: the README's table.

use hookwarden_aws::{lambda, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (settings, clients) = wire::cold_start("knox").await;
    let handler = wire::knox_function(&settings, &clients);
    lambda::run(handler, settings.max_body_bytes).await
}
