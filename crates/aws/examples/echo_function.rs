//! A Lambda function for testing the entrypoint (`hookwarden_aws::lambda`) end to end under
//! the Runtime API harness: it answers with what it received, and panics when the body is
//! `panic`. Configured like the OneAccess function (`ONEACCESS_SECRET_ID` required), so a
//! missing variable exercises the failed cold start.

use std::sync::Arc;

use async_trait::async_trait;
use hookwarden_aws::logging::{fail_cold_start, init_json_logs};
use hookwarden_aws::settings::Settings;
use hookwarden_pipeline::request::{Handler, Inbound, Reply};
use hookwarden_pipeline::Provider;

struct Echo;

#[async_trait]
impl Handler for Echo {
    fn provider(&self) -> Provider {
        Provider::OneAccess
    }

    async fn handle(&self, request: Inbound) -> Reply {
        if request.body.as_ref() == b"panic" {
            panic!("the test asked for a panic");
        }
        let headers: serde_json::Map<String, serde_json::Value> = request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into(),
                )
            })
            .collect();
        let echo = serde_json::json!({
            "method": request.method.as_str(),
            "headers": headers,
            "body": String::from_utf8_lossy(&request.body),
            "source_ip": request.source_ip,
            "xray": std::env::var("_X_AMZN_TRACE_ID").ok(),
        });
        tracing::info!(len = request.body.len(), "echoed");
        Reply::json(200, echo.to_string())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    init_json_logs();
    let settings =
        Settings::from_env(Provider::OneAccess).unwrap_or_else(|err| fail_cold_start(&err));
    hookwarden_aws::lambda::run(Arc::new(Echo), settings.max_body_bytes).await
}
