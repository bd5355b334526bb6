//! `knox-webhook` run exactly as Lambda runs it — the built binary under a Lambda Runtime
//! API on loopback — against moto's S3 and EventBridge, fed the committed sample events.

use std::time::Duration;

use hookwarden_testkit::deployment::{event_key, Deployment, BUCKET, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::history;
use hookwarden_testkit::log_audit::sample_needles;
use hookwarden_testkit::samples::{body_of, samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;
use sha2::Digest as _;

use crate::support::{id_of, test_certificate_pin, BINARY, CERT_KEY, MACHINE};

async fn deploy(sink: &str, with_certificate: bool) -> Deployment {
    deploy_with(sink, with_certificate, &[]).await
}

async fn deploy_with(sink: &str, with_certificate: bool, env: &[(&str, &str)]) -> Deployment {
    let mut deployment = Deployment::prepare(BINARY).await;
    if with_certificate {
        put_certificate(&deployment).await;
    }
    let mut all = vec![("KNOX_CERT_KEY", CERT_KEY)];
    if !env.iter().any(|(name, _)| *name == "KNOX_SUBSCRIPTION_IDS") {
        all.push(("KNOX_SUBSCRIPTION_IDS", SAMPLE_SUBSCRIPTIONS));
    }
    all.extend_from_slice(env);
    deployment.start(Some(sink), &all);
    deployment
}

/// The subscriptions of the samples under `events/knox/` (and of the test bodies here).
const SAMPLE_SUBSCRIPTIONS: &str = "123456789123,123456789124,123456789125,123456789126,\
    123456789127,123456789128,123456789129,123456789130,123456789131,123456789132,\
    123456789133,123456789134,123456789135,123456789136,123456789137,123456789138,\
    123456789139,123456789140,123456789141,123456789142,123456789143,123456789144,\
    123456789145,123456789146,123456789147";

/// A Knox Guard callback for device `device` of `subscription`.
fn guard_body(subscription: &str, event: &str, device: &str) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"{subscription}","event":"{event}","payload":{{"deviceUid":"{device}","lastUpdatedAt":"1795000000000"}}}}"#
    )
    .into_bytes()
}

/// `event` with an `x-knox-nonce` header.
fn with_nonce(mut event: serde_json::Value, nonce: &str) -> serde_json::Value {
    event["headers"]["x-knox-nonce"] = nonce.into();
    event
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
    let _machine = MACHINE.read().await;
    let deployment = deploy("s3,eventbridge", true).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let all = samples("knox");
    let mut ids = std::collections::BTreeSet::new();
    for (name, event) in &all {
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(status, 200, "{name}: {reply}\n{}", deployment.logs());
        ids.insert(id_of(&body_of(event)));
    }
    let stored = deployment.events("knox").await;
    assert_eq!(
        stored.len(),
        ids.len(),
        "one object per signed content: {stored:?}"
    );

    let published = capture.receive(ids.len(), INVOKE_TIMEOUT).await;
    assert_eq!(published.len(), ids.len());
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
    assert_eq!(deployment.events("knox").await.len(), ids.len());
    assert!(
        capture.receive(1, Duration::from_secs(2)).await.is_empty(),
        "no second publish"
    );
    deployment.assert_logs_clean(&sample_needles("knox"));
}

/// R2: the default (no `KNOX_SUBSCRIPTION_IDS`) delivers nothing: an authentic callback is
/// kept under `knox/_quarantine/`, answered 200 once there, counted by the `Quarantined`
/// metric, and neither stored as an event nor published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_subscription_list_callbacks_are_quarantined_not_delivered() {
    let _machine = MACHINE.read().await;
    let deployment = deploy_with("s3,eventbridge", true, &[("KNOX_SUBSCRIPTION_IDS", "")]).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let body = guard_body("566797f70f280325c20ff234", "KG_DEVICE_LOCKED", "d-1");
    for trace in ["t-1", "t-2"] {
        let (status, reply) = deployment.invoke(signed(&body, trace, false)).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("quarantined")),
            "{reply}"
        );
    }
    assert!(deployment.events("knox").await.is_empty());
    let id = id_of(&body);
    let kept = deployment.moto.list_keys(BUCKET, "knox/_quarantine/").await;
    assert_eq!(kept, [format!("knox/_quarantine/{}/{id}.json", &id[..2])]);
    assert!(
        capture.receive(1, Duration::from_secs(2)).await.is_empty(),
        "nothing published"
    );
    let logs = deployment.logs();
    assert!(logs.contains("\"outcome\":\"quarantined\""), "{logs}");
    assert!(logs.contains("\"Quarantined\":1"), "the EMF metric: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_tampered_requests_store_nothing() {
    let _machine = MACHINE.read().await;
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

/// Identity is what Samsung signed: two callbacks of one operation (one trace id, one nonce)
/// are two events; the same signed content under fresh trace ids and nonces is one. With
/// `KNOX_SUBSCRIPTION_IDS`, another customer's authentic callbacks are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_is_the_signed_content_and_foreign_subscriptions_are_refused() {
    let _machine = MACHINE.read().await;
    let deployment = deploy_with(
        "s3",
        true,
        &[(
            "KNOX_SUBSCRIPTION_IDS",
            "123456789123,566797f70f280325c20ff234",
        )],
    )
    .await;
    let locked = guard_body("123456789123", "KG_DEVICE_LOCKED", "d-1");
    let unlocked = guard_body("123456789123", "KG_DEVICE_UNLOCKED", "d-1");
    for body in [&locked, &unlocked] {
        let event = with_nonce(signed(body, "bulk-op-1", false), "nonce-1");
        let (status, reply) = deployment.invoke(event).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("stored")),
            "{reply}"
        );
        assert_eq!(reply["id"], id_of(body));
    }
    let stored = deployment.events("knox").await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    for (body, event) in [
        (&locked, "KG_DEVICE_LOCKED"),
        (&unlocked, "KG_DEVICE_UNLOCKED"),
    ] {
        let id = id_of(body);
        let key = event_key("knox", &id);
        assert!(stored.contains(&key), "{key} in {stored:?}");
        let envelope = deployment.envelope(&key).await;
        assert_eq!(envelope["content_sha256"], id);
        assert_eq!(envelope["event_type"], event);
        assert_eq!(envelope["unsigned"]["trace_id"], "bulk-op-1");
        assert_eq!(envelope["unsigned"]["nonce"], "nonce-1");
    }

    // A redelivery, and replays under new trace ids and nonces, base64 or not: duplicates.
    for (trace, nonce, base64) in [
        ("bulk-op-1", "nonce-1", false),
        ("replay-1", "nonce-new", true),
        ("replay-2", "nonce-newer", false),
    ] {
        let event = with_nonce(signed(&locked, trace, base64), nonce);
        let (status, reply) = deployment.invoke(event).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("duplicate")),
            "{reply}"
        );
    }
    assert_eq!(deployment.events("knox").await.len(), 2);

    // Another customer's callback, signed by Samsung's one key: 403, nothing stored.
    let foreign = guard_body("999999999999", "KG_DEVICE_UNLOCKED", "d-9");
    let (status, reply) = deployment.invoke(signed(&foreign, "t-9", false)).await;
    assert_eq!(status, 403, "{reply}");
    assert_eq!(deployment.events("knox").await.len(), 2);
    let logs = deployment.logs();
    assert!(
        logs.contains("\"outcome\":\"foreign_subscription\""),
        "{logs}"
    );
    deployment.assert_logs_clean(&sample_needles("knox"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_it_answers_503_until_one_is_stored() {
    let _machine = MACHINE.read().await;
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
    let _machine = MACHINE.read().await;
    let deployment = deploy("s3", true).await;
    let warm = guard_body("123456789123", "KG_DEVICE_LOCKED", "warm");
    let body = guard_body("123456789123", "KG_DEVICE_LOCKED", "outage");
    // Warm: the certificate is cached, so the outage hits the event write itself.
    assert_eq!(
        deployment
            .invoke(signed(&warm, "trace-warm", false))
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
    let id = id_of(&body);
    assert_eq!(
        stored
            .iter()
            .filter(|k| k.ends_with(&format!("/{id}.json")))
            .count(),
        1,
        "{stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_fails_the_cold_start_with_one_clear_line() {
    let _machine = MACHINE.read().await;
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

/// A Knox API on loopback handing out the test certificate, and the credentials secret
/// pointing the function at it.
async fn knox_api_serving_the_test_certificate(
    deployment: &Deployment,
) -> hookwarden_testkit::http_stub::StubServer {
    use hookwarden_testkit::http_stub::{Answer, StubServer};
    let certificate = test_key("knox-test-cert.pem");
    let api = StubServer::start(move |request, _| {
        if request.target.starts_with("/ams/v1/oauth2/token") {
            Answer::new(
                200,
                "application/json",
                r#"{"access_token":"TEST-ONLY-token"}"#,
            )
        } else {
            Answer::new(200, "application/x-pem-file", certificate.clone())
        }
    })
    .await;
    let credentials = serde_json::json!({
        "client_id": "TEST-ONLY-client", "client_secret": "TEST-ONLY-secret", "base_url": api.url(),
    });
    deployment
        .moto
        .create_secret("knox/api", &credentials.to_string())
        .await;
    api
}

/// A4/A5: a downloaded certificate is written to S3 and used only when its key is pinned.
/// Pinned to Samsung's key, the test certificate the API hands out is refused: 503, nothing
/// written, and the download is not repeated within the minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_certificate_is_stored_only_when_its_key_is_pinned() {
    let _machine = MACHINE.read().await;
    let body = guard_body("123456789123", "KG_DEVICE_LOCKED", "pinned");
    let samsung = hookwarden_verify::x509::SAMSUNG_KNOX_SPKI_SHA256;

    let mut deployment = Deployment::prepare(BINARY).await;
    let api = knox_api_serving_the_test_certificate(&deployment).await;
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("KNOX_SUBSCRIPTION_IDS", SAMPLE_SUBSCRIPTIONS),
            ("KNOX_API_SECRET_ID", "knox/api"),
            ("KNOX_CERT_SPKI_SHA256", samsung),
        ],
    );
    for _ in 0..2 {
        let (status, reply) = deployment.invoke(signed(&body, "t", false)).await;
        assert_eq!(status, 503, "{reply}\n{}", deployment.logs());
    }
    assert_eq!(api.requests().len(), 2, "a token and one download");
    assert_eq!(deployment.moto.get_object(BUCKET, CERT_KEY).await, None);
    assert!(deployment.events("knox").await.is_empty());
    assert!(
        deployment.logs().contains(&format!(
            "{}) that KNOX_CERT_SPKI_SHA256 does not pin",
            test_certificate_pin()
        )),
        "{}",
        deployment.logs()
    );

    // Pinned to the test key (and Samsung's, as during a rotation): stored and used.
    let mut deployment = Deployment::prepare(BINARY).await;
    let _api = knox_api_serving_the_test_certificate(&deployment).await;
    let pins = format!("{samsung},{}", test_certificate_pin());
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("KNOX_SUBSCRIPTION_IDS", SAMPLE_SUBSCRIPTIONS),
            ("KNOX_API_SECRET_ID", "knox/api"),
            ("KNOX_CERT_SPKI_SHA256", &pins),
        ],
    );
    let (status, reply) = deployment.invoke(signed(&body, "t", false)).await;
    assert_eq!(status, 200, "{reply}\n{}", deployment.logs());
    assert_eq!(
        deployment.moto.get_object(BUCKET, CERT_KEY).await.unwrap(),
        test_key("knox-test-cert.pem").trim().as_bytes()
    );
}

/// With a pin, a certificate written to S3 cannot change the key either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_certificate_whose_key_is_not_pinned_is_not_used() {
    let _machine = MACHINE.read().await;
    let samsung = hookwarden_verify::x509::SAMSUNG_KNOX_SPKI_SHA256;
    let deployment = deploy_with("s3", true, &[("KNOX_CERT_SPKI_SHA256", samsung)]).await;
    let body = guard_body("123456789123", "KG_DEVICE_LOCKED", "stored");
    let (status, reply) = deployment.invoke(signed(&body, "t", false)).await;
    assert_eq!(status, 503, "{reply}");
    assert!(deployment.events("knox").await.is_empty());
}

/// A download configured without a pin is a configuration error, named at cold start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_without_a_pin_fails_the_cold_start() {
    let _machine = MACHINE.read().await;
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("KNOX_SUBSCRIPTION_IDS", SAMPLE_SUBSCRIPTIONS),
            ("KNOX_API_SECRET_ID", "knox/api"),
        ],
    );
    let function = deployment.function.as_mut().unwrap();
    let status = function
        .wait_exit(INVOKE_TIMEOUT)
        .await
        .expect("the function exits");
    assert!(!status.success());
    let output = deployment.logs();
    assert!(
        output.contains("KNOX_CERT_SPKI_SHA256: required with KNOX_API_SECRET_ID"),
        "{output}"
    );
}

/// A10: a certificate rotated in S3 is used by a warm function at the first callback its
/// cached certificate does not verify, without a redeploy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_rotated_in_s3_is_used_without_a_redeploy() {
    let _machine = MACHINE.read().await;
    let deployment = deploy("s3", true).await;
    let before = guard_body("123456789123", "KG_DEVICE_LOCKED", "before");
    assert_eq!(deployment.invoke(signed(&before, "t1", false)).await.0, 200);

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["knox-rotated.test".into()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2125, 1, 1);
    let rotated = params.self_signed(&key).unwrap();
    deployment
        .moto
        .put_object(BUCKET, CERT_KEY, rotated.pem())
        .await;
    let signer = RsaSigningKey::from_pkcs8_der(&key.serialize_der()).unwrap();
    let after = guard_body("123456789123", "KG_DEVICE_LOCKED", "after");
    let signature = knox::sign(&after, &signer).unwrap();
    let event = with_request(
        &samples("knox")[0].1,
        &after,
        &[("x-wsm-signature", &signature), ("x-wsm-traceid", "t2")],
        false,
    );
    let (status, reply) = deployment.invoke(event).await;
    assert_eq!(status, 200, "{reply}\n{}", deployment.logs());
    assert_eq!(deployment.events("knox").await.len(), 2);
}

/// Review B3: the largest body a function URL can carry, in the shape that costs the
/// canonicalizer most (short keys, nested), verified and stored within a 128 MB function.
/// Peak RSS is read from the process (`VmHWM`), in the test's debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_body_fits_in_a_128_mb_function() {
    let _machine = MACHINE.read().await;
    const LIMIT: usize = 6 * 1024 * 1024;
    let mut deployment = Deployment::prepare(BINARY).await;
    put_certificate(&deployment).await;
    let limit = LIMIT.to_string();
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("KNOX_SUBSCRIPTION_IDS", SAMPLE_SUBSCRIPTIONS),
            ("HOOKWARDEN_MAX_BODY_BYTES", limit.as_str()),
        ],
    );
    // A function URL event is at most 6 MB of JSON: leave room for the event around the body.
    let target = LIMIT - 64 * 1024;
    let mut body =
        String::from(r#"{"subscriptionId":"123456789123","event":"KAI_BIG","payload":{"#);
    let mut n = 0usize;
    while body.len() < target - 32 {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""{n:x}":{{"a":1}}"#));
        n += 1;
    }
    body.push_str("}}");
    let event = signed(body.as_bytes(), "big-1", false);
    let (status, reply) = deployment.invoke(event).await;
    assert_eq!(status, 200, "{reply}");
    let pid = deployment.function.as_ref().unwrap().id();
    let status_text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status_text
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    let peak_mib = peak_kib as f64 / 1024.0;
    println!(
        "a {} byte body ({n} nested objects): peak RSS {peak_mib:.1} MiB",
        body.len()
    );
    assert!(
        peak_mib < 100.0,
        "peak RSS {peak_mib:.1} MiB leaves too little of a 128 MB function"
    );
    assert_eq!(deployment.events("knox").await.len(), 1);
}

/// Whatever JOSE header Samsung sends, the function accepts what Samsung's verifier
/// accepts (the header is signed verbatim and decides nothing) and refuses a changed one; the
/// outcome line says what the header held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_jose_header_samsung_accepts_is_accepted() {
    let _machine = MACHINE.read().await;
    use hookwarden_verify::encoding::URL_UNPADDED;
    let deployment = deploy("s3", true).await;
    let key = RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap();
    let b64 = |text: &str| base64::Engine::encode(&URL_UNPADDED, text);
    let headers = [
        (b64(r#"{"typ":"JWT"}"#), "alg=- typ=JWT kid=-"),
        (b64("{}"), "alg=- typ=- kid=-"),
        (b64(r#"{"alg":"rs256"}"#), "alg=rs256 typ=- kid=-"),
        (b64(r#"{"alg":"none"}"#), "alg=none typ=- kid=-"),
        (
            b64(r#"{"alg":"HS256","kid":"k1"}"#),
            "alg=HS256 typ=- kid=k1",
        ),
        (b64("not json"), "not a JSON object"),
        (String::new(), "empty"),
    ];
    for (n, (protected, described)) in headers.iter().enumerate() {
        let body = guard_body("123456789123", "KG_DEVICE_LOCKED", &format!("hdr-{n}"));
        let signature = knox::sign_with_header(&body, protected, &key).unwrap();
        let template = &samples("knox")[0].1;
        let event = with_request(template, &body, &[("x-wsm-signature", &signature)], false);
        let (status, reply) = deployment.invoke(event).await;
        assert_eq!(status, 200, "{protected:?}: {reply}");
        let logs = deployment.logs();
        assert!(
            logs.contains(&format!("\"jose_header\":\"{described}\"")),
            "{described}: {logs}"
        );
        // The header's bytes are signed: another header under the same signature is refused.
        let (_, rest) = signature.split_once('.').unwrap();
        let swapped = format!("{}.{rest}", b64(r#"{"alg":"RS256"}"#));
        let event = with_request(template, &body, &[("x-wsm-signature", &swapped)], false);
        assert_eq!(
            deployment.invoke(event).await.0,
            401,
            "{protected:?} swapped"
        );
    }
    assert_eq!(deployment.events("knox").await.len(), headers.len());
}

/// Samsung's published examples are pretty-printed, and they verify: such a body is stored,
/// like every object, as one line of JSON that keeps the bytes as sent; DuckDB answers the
/// guide's queries over the stored objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pretty_printed_body_is_stored_on_one_line_and_answers_the_guides_queries() {
    let _machine = MACHINE.read().await;
    let deployment = deploy("s3,eventbridge", true).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let compact = guard_body("123456789123", "KG_DEVICE_LOCKED", "d-pretty");
    let pretty = history::pretty(std::str::from_utf8(&compact).unwrap());
    let sample = body_of(&samples("knox")[0].1);
    for (body, trace) in [(pretty.as_bytes(), "t-pretty"), (&sample[..], "t-sample")] {
        let (status, reply) = deployment.invoke(signed(body, trace, false)).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("stored")),
            "{reply}"
        );
    }
    let keys = deployment.events("knox").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut verbatim = 0;
    for key in &keys {
        let bytes = deployment.moto.get_object(BUCKET, key).await.unwrap();
        if history::assert_one_line_envelope(&bytes, key) {
            let envelope = String::from_utf8(bytes.clone()).unwrap();
            assert_eq!(history::body_as_sent(&envelope), pretty.as_bytes());
            verbatim += 1;
        }
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    assert_eq!(
        verbatim, 1,
        "only the pretty-printed body differs from its compact form"
    );

    let published = capture.receive(2, INVOKE_TIMEOUT).await;
    assert_eq!(published.len(), 2);
    // The bus events as the archive stream writes them: one per line, under the day.
    let day = &published[0]["detail"]["received_at"].as_str().unwrap()[..10];
    let archive = tempfile::tempdir().unwrap();
    let part = archive.path().join(format!("events/dt={day}"));
    std::fs::create_dir_all(&part).unwrap();
    let mut lines = String::new();
    for event in &published {
        assert_eq!(event["detail"]["format"], 2, "{event}");
        lines.push_str(&format!("{event}\n"));
    }
    std::fs::write(part.join("hookwarden-archive-1"), lines).unwrap();

    let id = id_of(pretty.as_bytes());
    let answers = history::query_events(
        dir.path(),
        &[
            ("id", &id),
            ("since", "2026-01-01"),
            ("archive", archive.path().to_str().unwrap()),
        ],
    );
    assert_eq!(
        answers["by-id"],
        serde_json::json!([[
            "knox",
            null,
            "KG_DEVICE_LOCKED",
            answers["by-id"][0][3],
            sha256_hex(pretty.as_bytes())
        ]]),
        "{answers}"
    );
    let sample_type = serde_json::from_slice::<serde_json::Value>(&sample).unwrap()["event"]
        .as_str()
        .unwrap()
        .to_string();
    let mut counts = vec![
        serde_json::json!(["knox", null, "KG_DEVICE_LOCKED", "1"]),
        serde_json::json!(["knox", null, sample_type, "1"]),
    ];
    counts.sort_by_key(|row| row[2].as_str().unwrap().to_string());
    assert_eq!(
        answers["counts"],
        serde_json::Value::from(counts),
        "{answers}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}
