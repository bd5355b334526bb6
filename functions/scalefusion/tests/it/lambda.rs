//! `scalefusion-webhook` under the Runtime API against moto: every sample stored, a rotated
//! secret still accepted through AWSPREVIOUS, forgeries refused, authentic bodies of any shape
//! stored, two bodies sharing an `id` stored as two events, and a body too large for
//! EventBridge published as a pointer to S3; credentials from the container credentials
//! endpoint when the environment has no keys.

use hookwarden_testkit::deployment::{Deployment, BUCKET, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::emf::{self, Datum};
use hookwarden_testkit::history;
use hookwarden_testkit::log_audit::sample_needles;
use hookwarden_testkit::samples::{body_of, samples, test_key, with_request};
use hookwarden_verify::scalefusion;
use sha2::Digest as _;

use crate::support::{BINARY, SECRET_ID};

const OLD_SECRET: &str = "the-secret-before-rotation";

/// The function with its secret rotated once: AWSCURRENT is the committed test secret,
/// AWSPREVIOUS the one before. Returns the deployment and the previous version's id.
async fn deploy(sink: &str, env: &[(&str, &str)]) -> (Deployment, String) {
    let mut deployment = Deployment::prepare(BINARY).await;
    let old = serde_json::json!({ "secret_key": OLD_SECRET }).to_string();
    let previous_version = deployment.moto.create_secret(SECRET_ID, &old).await;
    deployment
        .moto
        .put_secret_value(SECRET_ID, &test_key("scalefusion-secret.json"))
        .await;
    let mut all = vec![("SCALEFUSION_SECRET_ID", SECRET_ID)];
    all.extend_from_slice(env);
    deployment.start(Some(sink), &all);
    (deployment, previous_version)
}

/// The event id hookwarden gives `body`: the SHA-256 of the raw body Scalefusion signed.
fn id_of(body: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(body))
}

/// The secret the committed test key holds.
fn current_secret() -> String {
    let secret =
        serde_json::from_str::<serde_json::Value>(&test_key("scalefusion-secret.json")).unwrap();
    secret["secret_key"].as_str().unwrap().to_string()
}

fn signed(secret: &str, body: &[u8]) -> serde_json::Value {
    let template = &samples("scalefusion")[0].1;
    with_request(
        template,
        body,
        &[(
            "x-sf-signature",
            &scalefusion::sign(secret.as_bytes(), body),
        )],
        false,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_rotation_and_forgeries() {
    let (deployment, previous_version) = deploy("s3", &[]).await;
    let all = samples("scalefusion");
    for (name, event) in &all {
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    // Text and base64 forms of a sample are one delivery: one object each.
    assert_eq!(deployment.events("scalefusion").await.len(), all.len() / 2);

    // A sender still on the old secret: accepted through AWSPREVIOUS, and the envelope says so.
    let body = br#"{"id":"0d7c3f5e-1111-4c2a-9d6b-000000000001","event":"device.sim_swap","created_at":"2026-11-23T08:00:00Z","data":{"devices":[{"name":"Tablet-09"}]}}"#;
    let (status, reply) = deployment.invoke(signed(OLD_SECRET, body)).await;
    assert_eq!(status, 200, "{reply}");
    let keys = deployment.events("scalefusion").await;
    let key = keys
        .iter()
        .find(|k| k.ends_with(&format!("/{}.json", id_of(body))))
        .expect("stored");
    assert_eq!(
        deployment.envelope(key).await["verified_by"]["version_id"],
        previous_version.as_str()
    );

    // Forged, and a body changed after signing: 406, nothing stored.
    let before = deployment.events("scalefusion").await.len();
    let forged = br#"{"id":"0d7c3f5e-1111-4c2a-9d6b-000000000002","event":"device.lost"}"#;
    assert_eq!(deployment.invoke(signed("a-guess", forged)).await.0, 406);
    let mut changed = signed(OLD_SECRET, forged);
    changed["body"] = String::from_utf8(forged.to_vec())
        .unwrap()
        .replace("lost", "found")
        .into();
    assert_eq!(deployment.invoke(changed).await.0, 406);
    assert_eq!(deployment.events("scalefusion").await.len(), before);

    // Every outcome line names the invocation it belongs to, so CloudWatch can join it with
    // the platform's REPORT line.
    let outcomes: Vec<serde_json::Value> = deployment
        .logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("outcome").is_some())
        .collect();
    assert_eq!(outcomes.len(), all.len() + 3, "{}", deployment.logs());
    for line in &outcomes {
        let id = line["span"]["requestId"].as_str().unwrap_or_default();
        assert!(id.starts_with("00000000-0000-4000-8000-"), "{line}");
    }
    deployment.assert_logs_clean(&sample_needles("scalefusion"));

    // Each stored event, and no duplicate, counts once in CloudWatch's `EventsStored`: by
    // provider (the silence alarm) and by stream (the watchdog).
    let stored = deployment.events("scalefusion").await.len();
    let data: Vec<Datum> = emf::data(&deployment.logs())
        .into_iter()
        .filter(|d| d.namespace == "Hookwarden" && d.name == "EventsStored")
        .collect();
    let by_provider = [("Provider".to_string(), "scalefusion".to_string())];
    let per_provider: Vec<&Datum> = data
        .iter()
        .filter(|d| d.dimensions == by_provider)
        .collect();
    assert_eq!(per_provider.len(), stored, "{}", deployment.logs());
    assert!(per_provider.iter().all(|d| d.value == 1.0));
    let streams: Vec<Vec<(String, String)>> = data
        .iter()
        .filter(|d| d.dimensions.len() == 3)
        .map(|d| d.dimensions.clone())
        .collect();
    assert_eq!(streams.len(), stored);
    let sim_swap = ["Provider", "Tenant", "EventType"]
        .into_iter()
        .map(String::from)
        .zip(["scalefusion", "(default)", "device.sim_swap"].map(String::from))
        .collect::<Vec<_>>();
    // The sample and the event signed with the old secret: two events of one stream.
    assert_eq!(streams.iter().filter(|s| **s == sim_swap).count(), 2);
}

/// Rotating a leaked secret revokes it: once `HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS` have
/// passed since AWSCURRENT was created (Secrets Manager's CreatedDate), AWSPREVIOUS verifies
/// nothing. (`samples_rotation_and_forgeries` shows it verifying within the default grace
/// period, which needs that date read.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_secret_is_refused_after_the_grace_period() {
    let (deployment, _) = deploy("s3", &[("HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS", "1")]).await;
    // moto dates versions to the second: past the 1 s grace period for sure.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let body = br#"{"id":"0d7c3f5e-1111-4c2a-9d6b-000000000003","event":"device.locked"}"#;
    let (status, reply) = deployment.invoke(signed(OLD_SECRET, body)).await;
    assert_eq!(status, 406, "{reply}");
    assert!(deployment.events("scalefusion").await.is_empty());
    let (status, reply) = deployment.invoke(signed(&current_secret(), body)).await;
    assert_eq!(status, 200, "{reply}");
    deployment.assert_logs_clean(&sample_needles("scalefusion"));
}

/// Once the HMAC matches, the body is Scalefusion's: every shape is stored and answered 200,
/// and two different bodies that share an `id` are two events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_bodies_of_any_shape_are_stored_and_a_shared_id_merges_nothing() {
    let (deployment, _) = deploy("s3", &[]).await;
    let secret = current_secret();
    let cases: [(&[u8], &str); 5] = [
        (
            br#"[{"event":"device.locked","id":"a1"},{"event":"device.locked","id":"a2"}]"#,
            "device.locked",
        ),
        (b"device locked: Tablet-01", "unknown"),
        (
            br#"{"event_type":"device.unlocked","id":"same-id"}"#,
            "device.unlocked",
        ),
        (
            br#"{"event":"device.unlocked","id":"same-id","data":{"n":2}}"#,
            "device.unlocked",
        ),
        (
            br#"{"event":"device.brand_new_event","id":"b"}"#,
            "device.brand_new_event",
        ),
    ];
    for (body, _) in cases {
        let (status, reply) = deployment.invoke(signed(&secret, body)).await;
        assert_eq!(status, 200, "{}: {reply}", String::from_utf8_lossy(body));
        assert_eq!(reply["status"], "stored", "{reply}");
    }
    let keys = deployment.events("scalefusion").await;
    assert_eq!(keys.len(), cases.len(), "{keys:?}");
    for (body, event_type) in cases {
        let id = id_of(body);
        let key = keys
            .iter()
            .find(|k| k.ends_with(&format!("/{id}.json")))
            .unwrap_or_else(|| panic!("{event_type} {id} in {keys:?}"));
        let envelope = deployment.envelope(key).await;
        assert_eq!(envelope["content_sha256"], id);
        assert_eq!(envelope["event_type"], event_type);
        match std::str::from_utf8(body)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        {
            Some(json) => assert_eq!(envelope["body"], json),
            None => assert_eq!(
                envelope["body_base64"],
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body)
            ),
        }
    }
    // Each shape changed by one byte after signing: refused, nothing more stored.
    for (body, _) in cases {
        let mut changed = signed(&secret, body);
        let mut bytes = body.to_vec();
        bytes[1] ^= 1;
        changed["body"] = String::from_utf8(bytes).unwrap().into();
        assert_eq!(deployment.invoke(changed).await.0, 406);
    }
    assert_eq!(deployment.events("scalefusion").await.len(), cases.len());
    deployment.assert_logs_clean(&[secret]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_for_eventbridge_travels_by_pointer() {
    let (deployment, _) = deploy("eventbridge", &[("HOOKWARDEN_MAX_BODY_BYTES", "2000000")]).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let secret = current_secret();

    let small = body_of(&samples("scalefusion")[0].1);
    assert_eq!(deployment.invoke(signed(&secret, &small)).await.0, 200);
    let padding = "x".repeat(1_100_000);
    let big = format!(
        r#"{{"id":"big-1","event":"device.custom_properties_updated","data":{{"pad":"{padding}"}}}}"#
    );
    let (status, reply) = deployment.invoke(signed(&secret, big.as_bytes())).await;
    assert_eq!(status, 200, "{reply}");

    let events = capture.receive(2, INVOKE_TIMEOUT).await;
    assert_eq!(events.len(), 2);
    let big_id = id_of(big.as_bytes());
    let inline = events
        .iter()
        .find(|e| e["detail"]["id"] != big_id.as_str())
        .unwrap();
    assert!(
        inline["detail"]["body"].is_object(),
        "a small body goes inline"
    );
    let pointer = events
        .iter()
        .find(|e| e["detail"]["id"] == big_id.as_str())
        .unwrap();
    assert!(pointer["detail"].get("body").is_none());
    let key = pointer["detail"]["stored_at"]["key"].as_str().unwrap();
    let stored = deployment.envelope(key).await;
    assert_eq!(
        stored["body"]["data"]["pad"].as_str().unwrap().len(),
        padding.len()
    );
}

/// No AWS keys in the environment, only `AWS_CONTAINER_CREDENTIALS_FULL_URI` (what SnapStart
/// and container runtimes provide): the SDK's credential chain fetches them from that
/// endpoint, with the authorization token, and the event is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_the_container_credentials_endpoint() {
    use hookwarden_testkit::http_stub::{Answer, StubServer};
    const TOKEN: &str = "container-authorization-token";
    let endpoint = StubServer::start(|_, _| {
        Answer::new(
            200,
            "application/json",
            serde_json::json!({
                "AccessKeyId": "ASIACONTAINER",
                "SecretAccessKey": "container-secret",
                "Token": "container-session-token",
                "Expiration": "2099-01-01T00:00:00Z",
            })
            .to_string(),
        )
    })
    .await;
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .create_secret(SECRET_ID, &test_key("scalefusion-secret.json"))
        .await;
    let credentials_uri = format!("{}/v2/credentials/hookwarden", endpoint.url());
    deployment.start_without(
        Some("s3"),
        &[
            ("SCALEFUSION_SECRET_ID", SECRET_ID),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &credentials_uri),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN),
        ],
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
    );
    let body = br#"{"event":"device.locked","device_id":"container-credentials"}"#;
    let (status, reply) = deployment.invoke(signed(&current_secret(), body)).await;
    assert_eq!(status, 200, "{reply}\n{}", deployment.logs());
    assert_eq!(reply["status"], "stored", "{reply}");
    let keys = deployment.events("scalefusion").await;
    assert!(
        keys.iter()
            .any(|key| key.ends_with(&format!("{}.json", id_of(body)))),
        "{keys:?}"
    );
    let requests = endpoint.requests();
    assert!(
        !requests.is_empty(),
        "the credentials endpoint was not asked"
    );
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/v2/credentials/hookwarden");
        assert_eq!(request.header("authorization"), Some(TOKEN));
    }
    deployment.assert_logs_clean(&["container-secret".into(), TOKEN.into()]);
}

/// A body with newlines (Scalefusion signs the raw bytes, whatever their layout) is stored
/// and published as one line of JSON that keeps the bytes as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_with_newlines_is_stored_on_one_line_with_the_bytes_as_sent() {
    let (deployment, _) = deploy("s3,eventbridge", &[]).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let sample = body_of(&samples("scalefusion")[0].1);
    let body = history::pretty(std::str::from_utf8(&sample).unwrap());
    let (status, reply) = deployment
        .invoke(signed(&current_secret(), body.as_bytes()))
        .await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (200, Some("stored")),
        "{reply}"
    );
    let keys = deployment.events("scalefusion").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let bytes = deployment.moto.get_object(BUCKET, &keys[0]).await.unwrap();
    assert!(history::assert_one_line_envelope(&bytes, &keys[0]));
    let stored = String::from_utf8(bytes).unwrap();
    assert_eq!(history::body_as_sent(&stored), body.as_bytes());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored).unwrap()["content_sha256"],
        id_of(body.as_bytes())
    );
    let published = capture.receive(1, INVOKE_TIMEOUT).await;
    assert_eq!(published[0]["detail"]["format"], 2);
    assert_eq!(
        published[0]["detail"]["body_verbatim_base64"],
        serde_json::from_str::<serde_json::Value>(&stored).unwrap()["body_verbatim_base64"]
    );
}
