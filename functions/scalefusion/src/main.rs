//! `scalefusion-webhook`: Scalefusion device-event webhooks, verified and
//! delivered to S3 and/or EventBridge. Configuration: the README's table.

use hookwarden_aws::{lambda, wire};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (settings, clients) = wire::cold_start("scalefusion").await;
    let handler = wire::scalefusion_function(&settings, &clients);
    lambda::run(handler, settings.max_body_bytes).await
}
