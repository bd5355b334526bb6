//! `knox-webhook` fed what only a function URL event can carry, run as Lambda runs it (the
//! built binary polling a Runtime API on loopback) against moto's server: `isBase64Encoded`, a
//! body without Content-Type, headers joined by API Gateway, and the Knox rejections, each
//! with its status, exactly one log line with the right `outcome`, and no object written; what
//! the entrypoint refuses before a handler runs is logged like every request. Then hostile
//! function URL events straight into the entrypoint, over local adapters.
//!
//! Every test that starts the function ends by auditing its logs (`scripts/log-audit.sh`) for
//! the signatures, bodies and secrets it handled.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hookwarden_testkit::deployment::BUCKET;
use hookwarden_testkit::samples::{samples, test_key};
use hookwarden_verify::encoding::{STANDARD, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::knox;
use serde_json::Value;

use crate::support::{
    audit, event, keys, knox_body, moto_with_bucket, signed, stored, test_signing_key, Function,
    CERT_KEY, INVOKE_TIMEOUT, MACHINE,
};

/// A self-signed certificate valid `from`..`to` (years) for a fresh key: a certificate for a
/// key the sender does not hold, or an expired one.
fn other_certificate(from: i32, to: i32) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["knox.test".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(to, 1, 1);
    params.self_signed(&key).unwrap().pem()
}

// ---------------------------------------------------------------------------------------------
// Function URL rows.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_url_rows() {
    let _machine = MACHINE.read().await;
    let moto = moto_with_bucket().await;
    let endpoint = moto.endpoint();
    moto.put_object(
        BUCKET,
        "knox/_certificate/other.pem",
        other_certificate(2025, 2125),
    )
    .await;
    moto.put_object(
        BUCKET,
        "knox/_certificate/expired.pem",
        other_certificate(2020, 2021),
    )
    .await;
    let function = Function::start(&endpoint, CERT_KEY, &[]).await;
    let key = test_signing_key();
    let mut needles = Vec::new();

    // Rows that store: the body in text, and base64 with no Content-Type at all.
    let body = knox_body("row-1");
    let (text, signature) = signed(&body, "row-1", &key);
    needles.push(signature.clone());
    let call = function.call(text).await;
    call.expect("a signed text body", 200, "stored");
    assert!(stored(&moto, "row-1").await.is_some());
    let body = knox_body("row-2");
    let signature = knox::sign(&body, &key).unwrap();
    let headers = [
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-traceid", "row-2"),
    ];
    let no_content_type = event(&body, &headers, true);
    assert!(no_content_type["headers"].get("content-type").is_none());
    function
        .call(no_content_type)
        .await
        .expect("no Content-Type, base64 body", 200, "stored");
    let envelope: Value = serde_json::from_slice(
        &moto
            .get_object(BUCKET, &stored(&moto, "row-2").await.unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(envelope["body"]["payload"]["deviceId"], "BODY-MARKER-row-2");
    needles.push(signature.clone());

    // Rows that must store nothing.
    let body = knox_body("row-3");
    let signature = knox::sign(&body, &key).unwrap();
    needles.push(signature.clone());
    let with = |headers: &[(&str, &str)], body: &[u8], base64: bool| event(body, headers, base64);
    let good = [
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-traceid", "row-3"),
    ];
    let mut rows: Vec<(&str, Value, u16, &str)> = Vec::new();

    let mut not_utf8 = with(&good, &body, true);
    not_utf8["body"] = STANDARD.encode(b"{\"a\":\"\xff\xfe\"}").into();
    rows.push((
        "base64 of a body that is not UTF-8",
        not_utf8,
        400,
        "malformed",
    ));
    rows.push((
        "no X-WSM-SIGNATURE",
        with(&[("x-wsm-traceid", "row-3")], &body, false),
        401,
        "signature_rejected",
    ));
    rows.push((
        "empty X-WSM-SIGNATURE",
        with(
            &[("x-wsm-signature", ""), ("x-wsm-traceid", "row-3")],
            &body,
            false,
        ),
        401,
        "signature_rejected",
    ));
    // A function URL joins a repeated header with commas.
    let joined = format!("{signature},{signature}");
    rows.push((
        "X-WSM-SIGNATURE twice",
        with(
            &[("x-wsm-signature", &joined), ("x-wsm-traceid", "row-3")],
            &body,
            false,
        ),
        400,
        "malformed",
    ));
    let mut get = with(&good, &body, false);
    get["requestContext"]["http"]["method"] = "GET".into();
    rows.push(("method GET", get, 405, "method_not_allowed"));
    let form = b"subscriptionId=123456789123&event=KG_DEVICE_LOCKED";
    let mut form_event = with(&good, form, true);
    form_event["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    rows.push((
        "a form body (wrong content type)",
        form_event,
        400,
        "malformed",
    ));

    let canonical_b64 = URL_PADDED.encode(hookwarden_verify::jackson::canonicalize(&body).unwrap());
    let protected = |json: &str| URL_UNPADDED.encode(json);
    let none = format!("{}.{canonical_b64}.", protected(r#"{"alg":"none"}"#));
    rows.push((
        "alg none",
        with(
            &[("x-wsm-signature", &none), ("x-wsm-traceid", "row-3")],
            &body,
            false,
        ),
        400,
        "malformed",
    ));
    let hs256_input = format!("{}.{canonical_b64}", protected(r#"{"alg":"HS256"}"#));
    let mac = hex_decode(&hookwarden_verify::scalefusion::sign(
        test_key("knox-test-cert.pem").as_bytes(),
        hs256_input.as_bytes(),
    ));
    let hs256 = format!("{hs256_input}.{}", URL_UNPADDED.encode(mac));
    rows.push((
        "HS256 keyed with the certificate",
        with(
            &[("x-wsm-signature", &hs256), ("x-wsm-traceid", "row-3")],
            &body,
            false,
        ),
        401,
        "signature_rejected",
    ));
    let changed = knox_body("row-3-changed");
    rows.push((
        "body changed, JWS unchanged",
        with(&good, &changed, false),
        401,
        "signature_rejected",
    ));
    for (name, event, status, outcome) in rows {
        let before = keys(&moto).await;
        function.call(event).await.expect(name, status, outcome);
        assert_eq!(keys(&moto).await, before, "{name}: an object was written");
    }

    // The same valid request against a certificate for another key, and an expired one.
    let valid = with(&good, &body, false);
    let other = Function::start(&endpoint, "knox/_certificate/other.pem", &[]).await;
    let expired = Function::start(&endpoint, "knox/_certificate/expired.pem", &[]).await;
    for (name, function, status, outcome) in [
        (
            "a certificate for another key",
            &other,
            401,
            "signature_rejected",
        ),
        ("an expired certificate", &expired, 503, "unavailable"),
    ] {
        let before = keys(&moto).await;
        function
            .call(valid.clone())
            .await
            .expect(name, status, outcome);
        assert_eq!(keys(&moto).await, before, "{name}: an object was written");
    }
    // ... and the untouched request is still good.
    function
        .call(valid)
        .await
        .expect("the row-3 request itself", 200, "stored");

    needles.extend(["BODY-MARKER".to_string(), hs256]);
    audit(
        "function_url_rows",
        &[&function, &other, &expired],
        &needles,
    );
}

/// What the Lambda entrypoint refuses before a handler runs: it answers correctly and stores
/// nothing, and its log line must read like every other request's (provider, outcome,
/// status), or a dashboard counting outcomes misses these requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_rejections_are_logged_like_every_request() {
    let _machine = MACHINE.read().await;
    let moto = moto_with_bucket().await;
    let function = Function::start(&moto.endpoint(), CERT_KEY, &[]).await;
    let body = knox_body("entry");
    let signature = knox::sign(&body, &test_signing_key()).unwrap();
    let headers = [
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-traceid", "entry"),
    ];
    let mut invalid_base64 = event(&body, &headers, true);
    invalid_base64["body"] = "eyJhIjox*fQ==".into();
    let mut oversize = event(&body, &headers, true);
    oversize["body"] = STANDARD.encode(vec![b' '; 8193]).into();
    let before = keys(&moto).await;
    function
        .call(oversize)
        .await
        .expect("base64 body over the limit", 413, "too_large");
    // Events only a direct invoke can send: lambda_runtime answers them with an invocation
    // error (lambda_http panics on invalid base64 inside aws_lambda_events) and logs it, and
    // the process serves the next one.
    for (name, event, logged) in [
        (
            "isBase64Encoded with invalid base64",
            invalid_base64,
            "user handler panicked",
        ),
        (
            "not a function URL event",
            serde_json::json!(["not", "an", "event"]),
            "deserialization",
        ),
    ] {
        let offset = function.process.stdout().len();
        let err = function
            .api
            .invoke(event, INVOKE_TIMEOUT)
            .await
            .expect_err(name);
        assert!(
            matches!(
                err,
                hookwarden_testkit::runtime_api::InvocationError::Function { .. }
            ),
            "{name}: {err}"
        );
        let logs = function.process.stdout()[offset..].to_string();
        assert!(
            logs.lines()
                .any(|line| line.contains("\"ERROR\"") && line.contains(logged)),
            "{name}: {logs}"
        );
    }
    assert_eq!(keys(&moto).await, before, "an object was written");
    audit(
        "entrypoint",
        &[&function],
        &[signature, "BODY-MARKER".into()],
    );
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Hostile function URL events, straight into the entrypoint (`lambda::invoke`: what
// lambda_http does with each event) with the real Knox handler over local adapters. Run
// longer with
// `PROPTEST_CASES=100000 cargo test -p knox-webhook --test it function_url::proptest`.

/// The Knox handler over a directory store holding the test certificate.
fn local_knox_handler(dir: &Path) -> Arc<dyn hookwarden_pipeline::Handler> {
    use hookwarden_pipeline::local::DirStore;
    use hookwarden_pipeline::ports::ObjectStore as _;
    let store = Arc::new(DirStore::new(dir));
    let certificate = test_key("knox-test-cert.pem").into_bytes();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(store.put(CERT_KEY, certificate, ""))
        .unwrap();
    let context = hookwarden_pipeline::HandlerContext {
        delivery: Some(hookwarden_pipeline::delivery::Delivery::new(
            store.clone(),
            hookwarden_pipeline::delivery::Sinks::S3,
            "knox",
        )),
        max_body: 8192,
        clock: hookwarden_pipeline::clock::Clock::system(),
    };
    let certificates =
        hookwarden_pipeline::certificate::CertificateCache::new(store, CERT_KEY, None);
    Arc::new(hookwarden_pipeline::KnoxHandler::new(context, certificates))
}

/// Replies the entrypoint may give to an event nobody signed: never 2xx, never the 500 of a
/// panic.
const REFUSALS: [u16; 6] = [400, 401, 405, 409, 413, 503];

/// A JSON value of any shape, for fields that should be strings, bools or objects.
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Function URL events with every field possibly wrong: headers with any names and values
/// (control characters, non-ASCII, very long), any method, bodies in text or base64 (valid or
/// not), fields of the wrong type or missing.
fn hostile_event() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let header_name = prop_oneof![
        Just("x-wsm-signature".to_string()),
        Just("x-wsm-traceid".to_string()),
        Just("x-knox-nonce".to_string()),
        Just("content-type".to_string()),
        any::<String>(),
    ];
    let header_value = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.=-]{0,600}",
        Just(format!(
            "{}.{}.{}",
            URL_UNPADDED.encode(r#"{"alg":"RS256"}"#),
            "e30",
            "A".repeat(342)
        )),
    ];
    let body = prop_oneof![
        any::<String>().prop_map(|text| (Value::from(text), Value::from(false))),
        proptest::collection::vec(any::<u8>(), 0..2048)
            .prop_map(|bytes| (Value::from(STANDARD.encode(bytes)), Value::from(true))),
        "[A-Za-z0-9+/=*_ -]{0,200}".prop_map(|text| (Value::from(text), Value::from(true))),
        (any_json(), any_json()),
    ];
    let method = prop_oneof![
        Just(Value::from("POST")),
        any::<String>().prop_map(Value::from),
        any_json()
    ];
    (
        proptest::collection::btree_map(header_name, header_value, 0..6),
        body,
        method,
        proptest::collection::vec((0usize..6, any_json()), 0..2),
    )
        .prop_map(|(headers, (body, base64), method, replacements)| {
            let mut event = samples("knox")[0].1.clone();
            event["headers"] = Value::Object(
                headers
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            );
            event["body"] = body;
            event["isBase64Encoded"] = base64;
            event["requestContext"]["http"]["method"] = method;
            // Any top-level field replaced by anything, or removed.
            let fields = [
                "headers",
                "body",
                "isBase64Encoded",
                "requestContext",
                "version",
                "rawPath",
            ];
            for (field, value) in replacements {
                match value {
                    Value::Null => {
                        event.as_object_mut().unwrap().remove(fields[field]);
                    }
                    other => event[fields[field]] = other,
                }
            }
            event
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..proptest::prelude::ProptestConfig::default()
    })]

    #[test]
    /// Refused with an HTTP reply, or with an invocation error where lambda_http cannot build
    /// a request (invalid transport base64, which only a direct invoke can send); never
    /// stored, never a panic out of the handler, always quick.
    fn proptest_any_function_url_event_is_refused_without_panic(event in hostile_event()) {
        let _machine = MACHINE.blocking_read();
        let dir = tempfile::tempdir().unwrap();
        let handler = local_knox_handler(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let text = event.to_string();
        let started = Instant::now();
        let answer = runtime.block_on(hookwarden_aws::lambda::invoke(handler, text.as_bytes(), 8192));
        proptest::prop_assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        if let Ok(reply) = answer {
            proptest::prop_assert!(REFUSALS.contains(&reply.status), "{} {}", reply.status, reply.body);
            proptest::prop_assert!(serde_json::from_str::<Value>(&reply.body).is_ok());
        }
    }

    #[test]
    fn proptest_any_text_as_an_event_is_refused(text in proptest::prelude::any::<String>()) {
        let dir = tempfile::tempdir().unwrap();
        let handler = local_knox_handler(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let answer = runtime.block_on(hookwarden_aws::lambda::invoke(handler, text.as_bytes(), 8192));
        if let Ok(reply) = answer {
            proptest::prop_assert!(REFUSALS.contains(&reply.status), "{}", reply.status);
        }
    }

    /// `to_inbound` hands the handler exactly the bytes the sender sent, whether the function
    /// URL delivered them as text or as base64, and refuses what exceeds the limit.
    #[test]
    fn proptest_to_inbound_delivers_the_exact_bytes(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
        text in proptest::prelude::any::<String>(),
        limit in 1usize..4096,
    ) {
        let template = &samples("knox")[0].1;
        let event = |body: Value, base64: bool| -> lambda_http::Request {
            let mut event = template.clone();
            event["body"] = body;
            event["isBase64Encoded"] = base64.into();
            let event: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
            lambda_http::Request::from(event)
        };
        let encoded = hookwarden_aws::lambda::to_inbound(event(STANDARD.encode(&bytes).into(), true), limit);
        match encoded {
            Ok(inbound) => {
                proptest::prop_assert!(bytes.len() <= limit);
                proptest::prop_assert_eq!(inbound.body.as_ref(), bytes.as_slice());
            }
            Err(reply) => {
                proptest::prop_assert!(bytes.len() > limit);
                proptest::prop_assert_eq!(reply.status, 413);
            }
        }
        match hookwarden_aws::lambda::to_inbound(event(text.clone().into(), false), limit) {
            Ok(inbound) => proptest::prop_assert_eq!(inbound.body.as_ref(), text.as_bytes()),
            Err(reply) => {
                proptest::prop_assert!(text.len() > limit);
                proptest::prop_assert_eq!(reply.status, 413);
            }
        }
    }
}
