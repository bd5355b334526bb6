//! `knox-webhook` run exactly as Lambda runs it — the built binary under a Lambda Runtime
//! API on loopback — against moto's S3 and EventBridge, fed the committed sample events.

use std::time::Duration;

use hookwarden_testkit::deployment::{Deployment, BUCKET, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::log_audit::sample_needles;
use hookwarden_testkit::samples::{body_of, samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;

const CERT_KEY: &str = "knox/_certificate/knox.pem";
const BINARY: &str = env!("CARGO_BIN_EXE_knox-webhook");

async fn deploy(sink: &str, with_certificate: bool) -> Deployment {
    let mut deployment = Deployment::prepare(BINARY).await;
    if with_certificate {
        put_certificate(&deployment).await;
    }
    deployment.start(Some(sink), &[("KNOX_CERT_KEY", CERT_KEY)]);
    deployment
}

async fn put_certificate(deployment: &Deployment) {
    deployment
        .moto
        .put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
}

fn signed(body: &[u8], trace: &str, base64: bool) -> serde_json::Value {
    let key = RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap();
    let signature = knox::sign(body, &key).unwrap();
    let template = &samples("knox")[0].1;
    with_request(
        template,
        body,
        &[("x-wsm-signature", &signature), ("x-wsm-traceid", trace)],
        base64,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_is_stored_once_and_published() {
    let deployment = deploy("s3,eventbridge", true).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let all = samples("knox");
    let mut trace_ids = std::collections::BTreeSet::new();
    for (name, event) in &all {
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(status, 200, "{name}: {reply}\n{}", deployment.logs());
        trace_ids.insert(
            event["headers"]["x-wsm-traceid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let stored = deployment.events("knox").await;
    assert_eq!(
        stored.len(),
        trace_ids.len(),
        "one object per delivery id: {stored:?}"
    );

    let published = capture.receive(trace_ids.len(), INVOKE_TIMEOUT).await;
    assert_eq!(published.len(), trace_ids.len());
    let first = &published[0];
    assert_eq!(first["source"], "hookwarden.knox");
    assert_eq!(first["detail"]["verified_by"]["kind"], "certificate");
    assert!(first["detail"]["stored_at"]["key"]
        .as_str()
        .unwrap()
        .starts_with("knox/"));

    // Every sample again: all duplicates, nothing new stored or published.
    for (name, event) in &all {
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("duplicate")),
            "{name}"
        );
    }
    assert_eq!(deployment.events("knox").await.len(), trace_ids.len());
    assert!(
        capture.receive(1, Duration::from_secs(2)).await.is_empty(),
        "no second publish"
    );
    deployment.assert_logs_clean(&sample_needles("knox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_tampered_requests_store_nothing() {
    let deployment = deploy("s3", true).await;
    let body = body_of(&samples("knox")[0].1);
    let mut event = signed(&body, "trace-forged", false);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
    tampered[at] = if tampered[at] == b'9' {
        b'8'
    } else {
        tampered[at] + 1
    };
    event["body"] = String::from_utf8(tampered).unwrap().into();
    assert_eq!(deployment.invoke(event).await.0, 401);

    let mut unsigned = signed(&body, "trace-unsigned", true);
    unsigned["headers"]
        .as_object_mut()
        .unwrap()
        .remove("x-wsm-signature");
    assert_eq!(deployment.invoke(unsigned).await.0, 401);
    assert!(deployment.events("knox").await.is_empty());
    assert_eq!(
        deployment.invoke(signed(&body, "trace-real", true)).await.0,
        200
    );
    assert_eq!(deployment.events("knox").await.len(), 1);
    deployment.assert_logs_clean(&sample_needles("knox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_it_answers_503_until_one_is_stored() {
    let deployment = deploy("s3", false).await;
    let body = body_of(&samples("knox")[0].1);
    let (status, reply) = deployment.invoke(signed(&body, "trace-1", false)).await;
    assert_eq!(status, 503, "{reply}");
    assert!(
        !reply.to_string().contains(CERT_KEY),
        "no internal detail in the reply: {reply}"
    );
    put_certificate(&deployment).await;
    assert_eq!(
        deployment.invoke(signed(&body, "trace-1", false)).await.0,
        200
    );
    assert_eq!(deployment.events("knox").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_is_503_with_nothing_acknowledged_then_recovers() {
    let deployment = deploy("s3", true).await;
    let body = body_of(&samples("knox")[0].1);
    // Warm: the certificate is cached, so the outage hits the event write itself.
    assert_eq!(
        deployment
            .invoke(signed(&body, "trace-warm", false))
            .await
            .0,
        200
    );

    deployment.moto.pause();
    let started = std::time::Instant::now();
    let (status, _) = deployment
        .invoke(signed(&body, "trace-outage", false))
        .await;
    let waited = started.elapsed();
    deployment.moto.resume();
    assert_eq!(status, 503);
    assert!(
        waited < Duration::from_secs(10),
        "answered within the dependency budget: {waited:?}"
    );

    // The provider retries the same delivery once S3 is back: stored, exactly once.
    assert_eq!(
        deployment
            .invoke(signed(&body, "trace-outage", false))
            .await
            .0,
        200
    );
    let stored = deployment.events("knox").await;
    assert_eq!(
        stored
            .iter()
            .filter(|k| k.ends_with("/trace-outage.json"))
            .count(),
        1,
        "{stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_fails_the_cold_start_with_one_clear_line() {
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment.start(Some("sqs"), &[("KNOX_CERT_KEY", CERT_KEY)]);
    let function = deployment.function.as_mut().unwrap();
    let status = function
        .wait_exit(INVOKE_TIMEOUT)
        .await
        .expect("the function exits");
    assert!(!status.success());
    let output = deployment.logs();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("HOOKWARDEN_SINK"))
        .collect();
    assert_eq!(lines.len(), 1, "{output}");
    assert!(
        lines[0].contains("expected s3, eventbridge or s3,eventbridge"),
        "{output}"
    );
}
