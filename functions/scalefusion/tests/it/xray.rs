//! X-Ray: every AWS request of an invocation (Secrets Manager, S3, EventBridge) carries the
//! invocation's trace header (`Lambda-Runtime-Trace-Id`) as `X-Amzn-Trace-Id`, as the AWS
//! SDK sends it, seen by a proxy in front of moto.

use std::sync::{Arc, Mutex};

use hookwarden_testkit::deployment::Deployment;
use hookwarden_testkit::proxy::{self, Action, Proxy};
use hookwarden_testkit::samples::{samples, test_key};

use crate::support::{BINARY, SECRET_ID};

type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_request_carries_the_invocations_trace_header() {
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .create_secret(SECRET_ID, &test_key("scalefusion-secret.json"))
        .await;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let proxy = Proxy::with_policy(
        &deployment.moto.endpoint(),
        Arc::new(move |request: &proxy::Request| {
            record
                .lock()
                .unwrap()
                .push((request.label(), request.trace_header.clone()));
            Action::Forward
        }),
    )
    .await;
    let endpoint = proxy.url();
    deployment.start(
        Some("s3,eventbridge"),
        &[
            ("SCALEFUSION_SECRET_ID", SECRET_ID),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ],
    );

    // Init opens the S3 connection with one HeadObject (hookwarden_aws::wire::warm_up): made
    // outside any invocation, it carries no trace header.
    let started = std::time::Instant::now();
    let warm_up = loop {
        let first = seen.lock().unwrap().first().cloned();
        match first {
            Some(request) => break request,
            None if started.elapsed() < std::time::Duration::from_secs(10) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            None => panic!("Init made no AWS request"),
        }
    };
    assert_eq!(warm_up, ("s3 HEAD".to_string(), None));

    let all = samples("scalefusion");
    let mut traces = Vec::new();
    // Two different events (a sample's text and base64 forms are one event: the second
    // would be a duplicate, which publishes nothing).
    let two = all
        .iter()
        .filter(|(name, _)| !name.contains(".base64."))
        .take(2);
    for (name, event) in two {
        seen.lock().unwrap().clear();
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(status, 200, "{name}: {reply}");
        let requests = std::mem::take(&mut *seen.lock().unwrap());
        let labels: Vec<&str> = requests.iter().map(|(label, _)| label.as_str()).collect();
        assert!(
            labels.iter().any(|l| l.starts_with("s3 "))
                && labels.iter().any(|l| l.starts_with("eventbridge ")),
            "{name}: {labels:?}"
        );
        let mut headers: Vec<&Option<String>> = requests.iter().map(|(_, t)| t).collect();
        headers.dedup();
        assert_eq!(headers.len(), 1, "{name}: one trace header: {requests:?}");
        let trace = headers[0]
            .clone()
            .unwrap_or_else(|| panic!("{name}: {requests:?}"));
        assert!(trace.starts_with("Root=1-"), "{trace}");
        traces.push((trace, labels.join(", ")));
    }
    // The first invocation read the secret: Secrets Manager got the header too.
    assert!(traces[0].1.contains("secretsmanager "), "{traces:?}");
    assert_ne!(traces[0].0, traces[1].0, "each invocation its own trace");
}
