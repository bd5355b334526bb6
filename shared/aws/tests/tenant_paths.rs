//! The request path reaches the handler as the function URL sent it (`rawPath`, compared
//! with `aws_lambda_events`), and a handler with tenants routes on it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use hookwarden_aws::function_url::Event;
use hookwarden_aws::lambda::respond;
use hookwarden_pipeline::local::StaticSecret;
use hookwarden_pipeline::tenants::{LocalTenants, Tenants};
use hookwarden_pipeline::{Handler, Inbound, Reply};
use hookwarden_testkit::samples::samples;

#[test]
fn raw_path_is_read_as_aws_lambda_events_reads_it() {
    let mut events: Vec<serde_json::Value> = Vec::new();
    for dir in [
        "scalefusion",
        "tenants/scalefusion/acme",
        "tenants/knox/companyA",
    ] {
        events.extend(samples(dir).into_iter().map(|(_, event)| event));
    }
    let mut odd = events[0].clone();
    odd["rawPath"] = "/a%2Fb/%2e%2e".into();
    events.push(odd);
    let mut none = events[0].clone();
    none.as_object_mut().unwrap().remove("rawPath");
    events.push(none);
    let mut seen = std::collections::BTreeSet::new();
    for json in events {
        let text = json.to_string();
        let ours: Event = serde_json::from_str(&text).unwrap();
        let reference: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(ours.raw_path, reference.raw_path, "{text}");
        seen.insert(ours.raw_path.unwrap_or_default());
    }
    assert!(seen.contains("/acme") && seen.contains("/companyA") && seen.contains("/"));
}

/// Answers with the tenant it was built for.
struct Named(&'static str);

#[async_trait]
impl Handler for Named {
    fn provider(&self) -> &'static str {
        "test"
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
            "body": "{}",
            "isBase64Encoded": false,
        });
        if let Some(path) = path {
            event["rawPath"] = path.into();
        }
        event.to_string()
    };
    for (path, status, body) in [
        (Some("/"), 200, r#"{"handler":"default"}"#),
        (None, 200, r#"{"handler":"default"}"#),
        (Some("/acme"), 200, r#"{"handler":"acme"}"#),
        (Some("/globex"), 404, r#"{"error":"unknown tenant"}"#),
        (Some("/acme/x"), 404, r#"{"error":"unknown tenant"}"#),
        (Some("/a%2Fb"), 404, r#"{"error":"unknown tenant"}"#),
    ] {
        let reply = respond(handler.clone(), event(path).as_bytes(), 1000).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, body),
            "{path:?}"
        );
    }
}
