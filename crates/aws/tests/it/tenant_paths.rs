//! The request path reaches the handler as the function URL sent it (`rawPath`, as
//! lambda_http keeps it), and a handler with tenants routes on it.

use std::sync::Arc;

use async_trait::async_trait;
use hookwarden_aws::lambda::respond;
use hookwarden_pipeline::local::StaticSecret;
use hookwarden_pipeline::tenants::{LocalTenants, Tenants};
use hookwarden_pipeline::{Handler, Inbound, Reply};

/// Answers with the tenant it was built for.
struct Named(&'static str);

#[async_trait]
impl Handler for Named {
    fn provider(&self) -> hookwarden_pipeline::Provider {
        hookwarden_pipeline::Provider::Scalefusion
    }
    async fn handle(&self, _: Inbound) -> Reply {
        Reply::json(200, format!("{{\"handler\":\"{}\"}}", self.0))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_lambda_entrypoint_routes_on_raw_path() {
    let directory = Arc::new(LocalTenants::new());
    directory.insert("acme", Arc::new(StaticSecret::new("{}")));
    let handler: Arc<dyn Handler> = Arc::new(Tenants::new(
        Arc::new(Named("default")),
        directory,
        Box::new(|_, _| Ok(Arc::new(Named("acme")) as Arc<dyn Handler>)),
        std::time::Duration::from_secs(60),
    ));
    let event = |path: Option<&str>| {
        let mut event = serde_json::json!({
            "version": "2.0",
            "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "203.0.113.7"}},
            "rawQueryString": "",
            "body": "{}",
            "isBase64Encoded": false,
        });
        if let Some(path) = path {
            event["rawPath"] = path.into();
        }
        let event: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
        lambda_http::Request::from(event)
    };
    for (path, status, body) in [
        (Some("/"), 200, r#"{"handler":"default"}"#),
        (None, 200, r#"{"handler":"default"}"#),
        (Some("/acme"), 200, r#"{"handler":"acme"}"#),
        // A name that is no tenant is answered by a decoy built like a tenant's handler
        // (here the same one), so the answer does not tell names apart.
        (Some("/globex"), 200, r#"{"handler":"acme"}"#),
        (Some("/acme/x"), 404, r#"{"error":"unknown tenant"}"#),
        (Some("/a%2Fb"), 404, r#"{"error":"unknown tenant"}"#),
    ] {
        let reply = respond(handler.clone(), event(path), 1000).await;
        let lambda_http::Body::Text(text) = reply.body() else {
            panic!("replies are JSON text")
        };
        assert_eq!(
            (reply.status().as_u16(), text.as_str()),
            (status, body),
            "{path:?}"
        );
    }
}
