//! `knox-webhook` run exactly as Lambda runs it — the built binary under a Lambda Runtime
//! API on loopback — against moto's S3 and EventBridge, fed the committed sample events.

use std::time::Duration;

use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_testkit::samples::{body_of, samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;

const BUCKET: &str = "hookwarden-events";
const BUS: &str = "hookwarden";
const CERT_KEY: &str = "knox/_certificate/knox.pem";
const TIMEOUT: Duration = Duration::from_secs(30);

struct Rig {
    moto: MotoServer,
    api: RuntimeApi,
    function: FunctionProcess,
}

async fn rig(sink: &str, extra_env: &[(&str, &str)]) -> Rig {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.create_event_bus(BUS).await;
    let api = RuntimeApi::start().await;
    let endpoint = moto.endpoint();
    let mut env = vec![
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("HOOKWARDEN_SINK", sink),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_EVENT_BUS", BUS),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "1500"),
        ("KNOX_CERT_KEY", CERT_KEY),
    ];
    env.extend_from_slice(extra_env);
    let function = api.spawn_function(env!("CARGO_BIN_EXE_knox-webhook"), &env);
    Rig { moto, api, function }
}

impl Rig {
    async fn put_certificate(&self) {
        self.moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem")).await;
    }

    async fn invoke(&self, event: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.api.invoke(event, TIMEOUT).await.unwrap_or_else(|err| {
            panic!("{err}\nstdout:\n{}\nstderr:\n{}", self.function.stdout(), self.function.stderr())
        });
        let status = response["statusCode"].as_u64().unwrap() as u16;
        let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        (status, body)
    }

    /// Stored envelopes (the dedupe state under `_state/` excluded).
    async fn events(&self) -> Vec<String> {
        let keys = self.moto.list_keys(BUCKET, "knox/").await;
        keys.into_iter().filter(|k| !k.contains("/_")).collect()
    }
}

fn signed(body: &[u8], trace: &str, base64: bool) -> serde_json::Value {
    let key = RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap();
    let signature = knox::sign(body, &key).unwrap();
    let template = &samples("knox")[0].1;
    with_request(template, body, &[("x-wsm-signature", &signature), ("x-wsm-traceid", trace)], base64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_is_stored_once_and_published() {
    let rig = rig("s3,eventbridge", &[]).await;
    rig.put_certificate().await;
    let capture = rig.moto.capture_events(BUS).await;
    let all = samples("knox");
    let mut trace_ids = std::collections::BTreeSet::new();
    for (name, event) in &all {
        let (status, reply) = rig.invoke(event.clone()).await;
        assert_eq!(status, 200, "{name}: {reply}");
        trace_ids.insert(event["headers"]["x-wsm-traceid"].as_str().unwrap().to_string());
    }
    let stored = rig.events().await;
    assert_eq!(stored.len(), trace_ids.len(), "one object per delivery id: {stored:?}");

    let published = capture.receive(trace_ids.len(), TIMEOUT).await;
    assert_eq!(published.len(), trace_ids.len());
    let first = &published[0];
    assert_eq!(first["source"], "hookwarden.knox");
    assert_eq!(first["detail"]["verified_by"]["kind"], "certificate");
    assert!(first["detail"]["stored_at"]["key"].as_str().unwrap().starts_with("knox/"));

    // Every sample again: all duplicates, nothing new stored or published.
    for (name, event) in &all {
        let (status, reply) = rig.invoke(event.clone()).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")), "{name}");
    }
    assert_eq!(rig.events().await.len(), trace_ids.len());
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty(), "no second publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_tampered_requests_store_nothing() {
    let rig = rig("s3", &[]).await;
    rig.put_certificate().await;
    let body = body_of(&samples("knox")[0].1);
    let mut event = signed(&body, "trace-forged", false);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
    tampered[at] = if tampered[at] == b'9' { b'8' } else { tampered[at] + 1 };
    event["body"] = String::from_utf8(tampered).unwrap().into();
    assert_eq!(rig.invoke(event).await.0, 401);

    let mut unsigned = signed(&body, "trace-unsigned", true);
    unsigned["headers"].as_object_mut().unwrap().remove("x-wsm-signature");
    assert_eq!(rig.invoke(unsigned).await.0, 401);
    assert!(rig.events().await.is_empty());
    assert_eq!(rig.invoke(signed(&body, "trace-real", true)).await.0, 200);
    assert_eq!(rig.events().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_it_answers_503_until_one_is_stored() {
    let rig = rig("s3", &[]).await;
    let body = body_of(&samples("knox")[0].1);
    let (status, reply) = rig.invoke(signed(&body, "trace-1", false)).await;
    assert_eq!(status, 503, "{reply}");
    assert!(!reply.to_string().contains(CERT_KEY), "no internal detail in the reply: {reply}");
    rig.put_certificate().await;
    assert_eq!(rig.invoke(signed(&body, "trace-1", false)).await.0, 200);
    assert_eq!(rig.events().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_is_503_with_nothing_acknowledged_then_recovers() {
    let rig = rig("s3", &[]).await;
    rig.put_certificate().await;
    let body = body_of(&samples("knox")[0].1);
    // Warm: the certificate is cached, so the outage hits the event write itself.
    assert_eq!(rig.invoke(signed(&body, "trace-warm", false)).await.0, 200);

    rig.moto.pause();
    let started = std::time::Instant::now();
    let (status, _) = rig.invoke(signed(&body, "trace-outage", false)).await;
    let waited = started.elapsed();
    rig.moto.resume();
    assert_eq!(status, 503);
    assert!(waited < Duration::from_secs(10), "answered within the dependency budget: {waited:?}");

    // The provider retries the same delivery once S3 is back: stored, exactly once.
    assert_eq!(rig.invoke(signed(&body, "trace-outage", false)).await.0, 200);
    let stored = rig.events().await;
    assert_eq!(stored.iter().filter(|k| k.ends_with("/trace-outage.json")).count(), 1, "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_fails_the_cold_start_with_one_clear_line() {
    let moto = MotoServer::start();
    let api = RuntimeApi::start().await;
    let endpoint = moto.endpoint();
    let mut function = api.spawn_function(
        env!("CARGO_BIN_EXE_knox-webhook"),
        &[("AWS_ENDPOINT_URL", endpoint.as_str()), ("HOOKWARDEN_SINK", "sqs"), ("HOOKWARDEN_BUCKET", BUCKET), ("KNOX_CERT_KEY", CERT_KEY)],
    );
    let status = function.wait_exit(TIMEOUT).await.expect("the function exits");
    assert!(!status.success());
    let output = format!("{}{}", function.stdout(), function.stderr());
    let lines: Vec<&str> = output.lines().filter(|l| l.contains("HOOKWARDEN_SINK")).collect();
    assert_eq!(lines.len(), 1, "{output}");
    assert!(lines[0].contains("expected s3, eventbridge or s3,eventbridge"), "{output}");
}
