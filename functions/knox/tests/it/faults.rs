//! `knox-webhook` under faults and hostile transport, run as Lambda runs it (the built binary
//! polling a Runtime API on loopback) against moto's server:
//!
//! - function URL rows: what only a function URL event can carry (`isBase64Encoded`, a body
//!   without Content-Type, headers joined by API Gateway) and the Knox rejections, each with
//!   its status, exactly one log line with the right `outcome`, and no object written;
//! - faults: S3 stopped mid-run, a dependency that accepts and never answers, an S3 write that
//!   fails after the dedupe claim succeeded, EventBridge rejecting the entry, Secrets Manager
//!   down. Each gets a 5xx inside the dependency budget, never a 2xx for an event that is not
//!   stored, and the same process recovers when the dependency does;
//! - load: several function processes on one Runtime API, thousands of deliveries with
//!   duplicates and forgeries, exactly the unique valid events stored.
//!
//! Faults between the function and moto come from [`FaultProxy`], an HTTP proxy on loopback
//! that forwards to moto or, per AWS service, drops the connection or never answers.
//!
//! Every test ends by auditing the function's logs (`scripts/log-audit.sh`) for the
//! signatures, bodies and secrets it handled.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hookwarden_testkit::deployment::{event_id, event_keys};
use hookwarden_testkit::load::{percentile, shuffle};
use hookwarden_testkit::log_audit::assert_no_needles;
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::{self, Action, Proxy, Service};
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::encoding::{STANDARD, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;
use serde_json::Value;
use sha2::Digest as _;

const BINARY: &str = env!("CARGO_BIN_EXE_knox-webhook");
const BUCKET: &str = "hookwarden-events";
const CERT_KEY: &str = "knox/_certificate/knox.pem";
const BUS: &str = hookwarden_testkit::deployment::BUS;
/// `HOOKWARDEN_DEPENDENCY_TIMEOUT_MS` in the fault tests.
const DEPENDENCY_TIMEOUT: Duration = Duration::from_millis(2000);
/// What a 5xx may take beyond the dependency budget: the function's own work, a second
/// dependency call on the way (certificate, claim), scheduling on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(2500);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The load test saturates both cores, and the other tests time their answers: they take this
/// lock shared, the load test exclusively, so no timing measures another test's load.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

// ---------------------------------------------------------------------------------------------
// A function process on its own Runtime API, and what one invocation produced.

struct Function {
    api: RuntimeApi,
    process: FunctionProcess,
}

/// One invocation: the reply, how long it took, and the log lines written meanwhile.
struct Call {
    status: u16,
    body: Value,
    elapsed: Duration,
    lines: Vec<Value>,
}

impl Function {
    /// `knox-webhook` with AWS at `endpoint`, the S3 sink (plus `env`), certificate `cert_key`.
    async fn start(endpoint: &str, cert_key: &str, env: &[(&str, &str)]) -> Function {
        let api = RuntimeApi::start().await;
        let timeout = DEPENDENCY_TIMEOUT.as_millis().to_string();
        let mut all = vec![
            ("AWS_ENDPOINT_URL", endpoint),
            ("HOOKWARDEN_SINK", "s3"),
            ("HOOKWARDEN_BUCKET", BUCKET),
            ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", timeout.as_str()),
            ("HOOKWARDEN_MAX_BODY_BYTES", "8192"),
            ("KNOX_CERT_KEY", cert_key),
            ("KNOX_SUBSCRIPTION_IDS", "123456789123"),
        ];
        all.extend_from_slice(env);
        let process = api.spawn_function(BINARY, &all);
        Function { api, process }
    }

    async fn call(&self, event: Value) -> Call {
        let offset = self.process.stdout().len();
        let started = Instant::now();
        let response = self
            .api
            .invoke(event, INVOKE_TIMEOUT)
            .await
            .unwrap_or_else(|err| panic!("{err}\n{}", self.logs()));
        let elapsed = started.elapsed();
        let status = response["statusCode"].as_u64().expect("a status code") as u16;
        let body = serde_json::from_str(response["body"].as_str().expect("a text body"))
            .expect("a JSON body");
        let lines = self.process.stdout()[offset..]
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"))
            })
            .collect();
        Call {
            status,
            body,
            elapsed,
            lines,
        }
    }

    fn logs(&self) -> String {
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
}

impl Call {
    /// The status; exactly one log line for the request, carrying `outcome`, `status` and the
    /// provider; and the metric records (EMF on stdout, not log lines): `SignatureRejected`
    /// exactly when the signature was rejected, `EventsStored` exactly when the event was
    /// stored.
    fn expect(&self, name: &str, status: u16, outcome: &str) {
        assert_eq!(
            self.status, status,
            "{name}: {}\n{:#?}",
            self.body, self.lines
        );
        let (metrics, logs): (Vec<&Value>, Vec<&Value>) = self
            .lines
            .iter()
            .partition(|line| line.get("_aws").is_some());
        assert_eq!(logs.len(), 1, "{name}: one log line per request: {logs:#?}");
        let line = logs[0];
        assert_eq!(line["outcome"], outcome, "{name}: {line}");
        assert_eq!(line["status"], status, "{name}: {line}");
        assert_eq!(line["provider"], "knox", "{name}: {line}");
        let expected: &[&str] = match outcome {
            "signature_rejected" => &["SignatureRejected"],
            "stored" => &["EventsStored"],
            _ => &[],
        };
        assert_eq!(
            metrics.len(),
            expected.len(),
            "{name}: metric records {metrics:#?}"
        );
        for (metric, name_of) in metrics.iter().zip(expected) {
            assert_eq!(metric[*name_of], 1, "{name}: {metric}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

fn test_signing_key() -> RsaSigningKey {
    RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap()
}

/// `KNOX_CERT_SPKI_SHA256` for the test certificate: a download needs a pin.
fn test_certificate_pin() -> String {
    hookwarden_verify::x509::KnoxCertificate::parse(test_key("knox-test-cert.pem").as_bytes())
        .unwrap()
        .spki_sha256()
        .to_string()
}

/// A Knox body unique to `id`, with a marker the log audit looks for.
fn knox_body(id: &str) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{{"deviceId":"BODY-MARKER-{id}","ratio":1.10}}}}"#
    )
    .into_bytes()
}

/// A function URL event for `body` with `headers`; `base64` sends it as a function URL sends
/// a request without a text Content-Type.
fn event(body: &[u8], headers: &[(&str, &str)], base64: bool) -> Value {
    with_request(&samples("knox")[0].1, body, headers, base64)
}

fn signed(body: &[u8], trace: &str, key: &RsaSigningKey) -> (Value, String) {
    let signature = knox::sign(body, key).unwrap();
    let event = event(
        body,
        &[("x-wsm-signature", &signature), ("x-wsm-traceid", trace)],
        false,
    );
    (event, signature)
}

/// A self-signed certificate valid `from`..`to` (years) for a fresh key: a certificate for a
/// key the sender does not hold, or an expired one.
fn other_certificate(from: i32, to: i32) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["knox.test".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(to, 1, 1);
    params.self_signed(&key).unwrap().pem()
}

async fn moto_with_bucket() -> MotoServer {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    moto
}

/// Every key in the bucket.
async fn keys(moto: &MotoServer) -> BTreeSet<String> {
    moto.list_keys(BUCKET, "").await.into_iter().collect()
}

/// The event id of `knox_body(tag)`: SHA-256 of the canonical form Samsung signs.
fn id_of_tag(tag: &str) -> String {
    let canonical = hookwarden_verify::jackson::canonicalize(&knox_body(tag)).unwrap();
    hex::encode(sha2::Sha256::digest(&canonical))
}

/// The envelope key of `knox_body(tag)`, if one is stored.
async fn stored(moto: &MotoServer, tag: &str) -> Option<String> {
    let suffix = format!("/{}.json", id_of_tag(tag));
    keys(moto)
        .await
        .into_iter()
        .find(|k| k.ends_with(&suffix) && !k.contains("/_state/"))
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
// longer with `PROPTEST_CASES=100000 cargo test -p knox-webhook --test faults proptest`.

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
    let common = hookwarden_pipeline::Common {
        delivery: Some(hookwarden_pipeline::delivery::Delivery::new(
            store.clone(),
            true,
            None,
            "knox",
        )),
        max_body: 8192,
        clock: hookwarden_pipeline::clock::Clock::system(),
    };
    let certificates =
        hookwarden_pipeline::certificate::CertificateCache::new(store, CERT_KEY, None);
    Arc::new(hookwarden_pipeline::KnoxHandler::new(common, certificates))
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

// ---------------------------------------------------------------------------------------------
// A fault-injecting HTTP proxy in front of moto.

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    /// PutObject of anything outside `_state/`: the event envelope.
    S3EventWrite,
    /// Every other S3 request (markers, reads, the certificate).
    S3,
    SecretsManager,
    EventBridge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Close the connection without an answer, as a dead endpoint does.
    Drop,
    /// Accept the request and never answer.
    Hang,
}

/// The test kit's proxy, with a fault per [`Target`] that tests switch on and off.
struct FaultProxy {
    url: String,
    faults: Arc<Mutex<HashMap<Target, Fault>>>,
    _proxy: Proxy,
}

impl FaultProxy {
    async fn start(moto: &str) -> FaultProxy {
        let faults: Arc<Mutex<HashMap<Target, Fault>>> = Arc::default();
        let shared = faults.clone();
        let proxy = Proxy::with_policy(
            moto,
            Arc::new(move |request: &proxy::Request| {
                match shared.lock().unwrap().get(&target_of(request)) {
                    Some(Fault::Drop) => Action::Drop,
                    Some(Fault::Hang) => Action::Hang,
                    None => Action::Forward,
                }
            }),
        )
        .await;
        FaultProxy {
            url: proxy.url(),
            faults,
            _proxy: proxy,
        }
    }

    fn set(&self, target: Target, fault: Fault) {
        self.faults.lock().unwrap().insert(target, fault);
    }

    fn heal(&self) {
        self.faults.lock().unwrap().clear();
    }
}

fn target_of(request: &proxy::Request) -> Target {
    match request.service {
        Service::SecretsManager => Target::SecretsManager,
        Service::EventBridge => Target::EventBridge,
        _ if request.operation == "PUT" && !request.path.contains("/_state/") => {
            Target::S3EventWrite
        }
        _ => Target::S3,
    }
}

// ---------------------------------------------------------------------------------------------
// Faults.

/// A 5xx that arrived inside the dependency budget, logged once as `unavailable`.
fn expect_unavailable(name: &str, call: &Call) {
    eprintln!("{name}: 503 after {:?}", call.elapsed);
    call.expect(name, 503, "unavailable");
    assert!(
        call.elapsed < DEPENDENCY_TIMEOUT + SLACK,
        "{name}: answered after {:?}",
        call.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_stopped_mid_run_then_restarted() {
    let _machine = MACHINE.read().await;
    let mut moto = moto_with_bucket().await;
    let function = Function::start(&moto.endpoint(), CERT_KEY, &[]).await;
    let key = test_signing_key();
    let (warm, warm_signature) = signed(&knox_body("warm"), "warm", &key);
    function
        .call(warm)
        .await
        .expect("before the outage", 200, "stored");

    moto.stop();
    let (event, signature) = signed(&knox_body("outage"), "outage", &key);
    let call = function.call(event.clone()).await;
    expect_unavailable("S3 stopped", &call);

    // moto comes back empty (its state was in memory): the operator restores the bucket and
    // the certificate; the same process, with its cached certificate, stores the retry.
    moto.restart();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    function
        .call(event)
        .await
        .expect("the retry after S3 is back", 200, "stored");
    assert!(
        stored(&moto, "outage").await.is_some(),
        "a 200 for an event that is not stored"
    );
    audit(
        "s3_stopped_mid_run_then_restarted",
        &[&function],
        &[warm_signature, signature, "BODY-MARKER".into()],
    );
}

/// The one conditional write fails: 503, nothing stored, and the provider's retry stores the
/// event, after which a third delivery is the duplicate it now really is. With the bus, a
/// publish that fails after the write is completed by the retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_or_publish_is_completed_by_the_retry() {
    let _machine = MACHINE.read().await;
    let moto = moto_with_bucket().await;
    moto.create_event_bus(BUS).await;
    let capture = moto.capture_events(BUS).await;
    let proxy = FaultProxy::start(&moto.endpoint()).await;
    let function = Function::start(
        &proxy.url,
        CERT_KEY,
        &[
            ("HOOKWARDEN_SINK", "s3,eventbridge"),
            ("HOOKWARDEN_EVENT_BUS", BUS),
        ],
    )
    .await;
    let key = test_signing_key();

    proxy.set(Target::S3EventWrite, Fault::Drop);
    let (event, signature) = signed(&knox_body("half"), "half", &key);
    let call = function.call(event.clone()).await;
    expect_unavailable("envelope write dropped", &call);
    assert!(stored(&moto, "half").await.is_none(), "no envelope");

    // The write succeeds, the publish fails: 503, the event durable in S3, not yet on the bus.
    proxy.heal();
    proxy.set(Target::EventBridge, Fault::Drop);
    let call = function.call(event.clone()).await;
    expect_unavailable("publish dropped", &call);
    let key = stored(&moto, "half")
        .await
        .expect("the envelope was written");
    proxy.heal();
    let call = function.call(event.clone()).await;
    call.expect("the retry", 200, "duplicate");
    let envelope: Value =
        serde_json::from_slice(&moto.get_object(BUCKET, &key).await.unwrap()).unwrap();
    assert_eq!(envelope["id"], id_of_tag("half"));
    let published = capture.receive(1, INVOKE_TIMEOUT).await;
    assert_eq!(published.len(), 1, "the retry published it");
    assert_eq!(published[0]["detail"]["id"], id_of_tag("half"));
    // And again: the marker says it is published; nothing more goes to the bus.
    let call = function.call(event).await;
    call.expect("a fourth delivery", 200, "duplicate");
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty());
    audit(
        "failed_write_then_publish",
        &[&function],
        &[signature, "BODY-MARKER".into()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_never_answers_gets_503_inside_the_deadline_then_recovers() {
    let _machine = MACHINE.read().await;
    let moto = moto_with_bucket().await;
    let proxy = FaultProxy::start(&moto.endpoint()).await;
    let function = Function::start(&proxy.url, CERT_KEY, &[]).await;
    let key = test_signing_key();

    // Cold: even the certificate read hangs.
    proxy.set(Target::S3, Fault::Hang);
    proxy.set(Target::S3EventWrite, Fault::Hang);
    let (cold, cold_signature) = signed(&knox_body("cold"), "cold", &key);
    let call = function.call(cold.clone()).await;
    expect_unavailable("S3 hangs at the first request", &call);

    proxy.heal();
    function
        .call(cold)
        .await
        .expect("S3 answers again", 200, "stored");

    // Warm (certificate cached): the one conditional write hangs.
    proxy.set(Target::S3EventWrite, Fault::Hang);
    let (warm, warm_signature) = signed(&knox_body("warm"), "warm", &key);
    let call = function.call(warm.clone()).await;
    expect_unavailable("S3 hangs on the event write", &call);
    assert!(stored(&moto, "warm").await.is_none());
    proxy.heal();
    function.call(warm).await.expect("the retry", 200, "stored");
    assert!(stored(&moto, "warm").await.is_some());

    // A listener that accepts and never answers, as the only AWS endpoint.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", black_hole.local_addr().unwrap());
    let silent = Function::start(&endpoint, CERT_KEY, &[]).await;
    let (event, signature) = signed(&knox_body("silent"), "silent", &key);
    let call = silent.call(event).await;
    expect_unavailable("an endpoint that never answers", &call);
    drop(black_hole);
    audit(
        "never_answers",
        &[&function, &silent],
        &[
            cold_signature,
            warm_signature,
            signature,
            "BODY-MARKER".into(),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_rejecting_the_entry_then_recovering() {
    let _machine = MACHINE.read().await;
    let moto = moto_with_bucket().await;
    let missing_bus = "hookwarden-not-created-yet";
    let function = Function::start(
        &moto.endpoint(),
        CERT_KEY,
        &[
            ("HOOKWARDEN_SINK", "s3,eventbridge"),
            ("HOOKWARDEN_EVENT_BUS", missing_bus),
        ],
    )
    .await;
    let key = test_signing_key();
    let (event, signature) = signed(&knox_body("bus"), "bus", &key);
    let call = function.call(event.clone()).await;
    expect_unavailable("PutEvents to a bus that does not exist", &call);

    // The bus appears; the retry publishes the event (stored by the first attempt) once.
    moto.create_event_bus(missing_bus).await;
    let capture = moto.capture_events(missing_bus).await;
    let call = function.call(event.clone()).await;
    assert_eq!(call.status, 200, "{}", call.body);
    assert!(stored(&moto, "bus").await.is_some());
    let published = capture.receive(1, Duration::from_secs(20)).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["detail"]["id"], id_of_tag("bus"));
    function
        .call(event)
        .await
        .expect("a third delivery", 200, "duplicate");
    assert!(
        capture.receive(1, Duration::from_secs(2)).await.is_empty(),
        "published twice"
    );
    audit(
        "eventbridge",
        &[&function],
        &[signature, "BODY-MARKER".into()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_down_during_a_certificate_download() {
    let _machine = MACHINE.read().await;
    // Knox reads Secrets Manager only to download a missing certificate (the API credentials).
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let credentials = r#"{"client_id":"TEST-ONLY-client","client_secret":"TEST-ONLY-knox-client-secret-9f3k","base_url":"http://127.0.0.1:9"}"#;
    moto.create_secret("knox/api", credentials).await;
    let proxy = FaultProxy::start(&moto.endpoint()).await;
    proxy.set(Target::SecretsManager, Fault::Drop);
    let pin = test_certificate_pin();
    let function = Function::start(
        &proxy.url,
        CERT_KEY,
        &[
            ("KNOX_API_SECRET_ID", "knox/api"),
            ("KNOX_CERT_SPKI_SHA256", &pin),
        ],
    )
    .await;
    let (event, signature) = signed(&knox_body("sm"), "sm", &test_signing_key());
    let call = function.call(event).await;
    expect_unavailable("Secrets Manager down", &call);
    assert!(keys(&moto).await.is_empty(), "{:?}", keys(&moto).await);
    audit(
        "secrets_manager_knox",
        &[&function],
        &[signature, "TEST-ONLY-knox-client-secret-9f3k".into()],
    );
}

/// Secrets Manager down and back, through the Scalefusion handler: Knox reads a secret only
/// during a certificate download, which is retried at most once a minute, so its recovery
/// cannot be shown in seconds. The handler is assembled by `hookwarden_aws::wire` exactly as
/// `scalefusion-webhook`'s main does and called through `lambda::invoke`, what lambda_http
/// does with each event; only the Runtime API loop is left out.
#[tokio::test(flavor = "current_thread")]
async fn secrets_manager_down_then_back_in_the_same_process() {
    let _machine = MACHINE.read().await;
    let logs = Logs::default();
    let _guard = logs.install();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let secret_json = test_key("scalefusion-secret.json");
    moto.create_secret("hookwarden/scalefusion", &secret_json)
        .await;
    let proxy = FaultProxy::start(&moto.endpoint()).await;
    let env: HashMap<&str, &str> = HashMap::from([
        ("HOOKWARDEN_SINK", "s3"),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "2000"),
        ("SCALEFUSION_SECRET_ID", "hookwarden/scalefusion"),
    ]);
    let settings = hookwarden_aws::Settings::from_lookup("scalefusion", |name| {
        env.get(name).map(|v| v.to_string())
    })
    .unwrap();
    let loader = hookwarden_testkit::moto::at_endpoint(
        aws_config::defaults(hookwarden_aws::sdk::behavior_version()),
        &proxy.url,
    );
    let clients = hookwarden_aws::Clients::from_loader(loader, settings.dependency_timeout).await;
    let handler: Arc<dyn hookwarden_pipeline::Handler> =
        Arc::new(hookwarden_aws::wire::scalefusion(&settings, &clients));

    let secret: Value = serde_json::from_str(&secret_json).unwrap();
    let secret = secret["secret_key"].as_str().unwrap().to_string();
    let body = br#"{"id":"0d7c3f5e-2222-4c2a-9d6b-000000000001","event":"device.locked","data":{"marker":"BODY-MARKER-sf"}}"#;
    let signature = hookwarden_verify::scalefusion::sign(secret.as_bytes(), body);
    let event = with_request(
        &samples("scalefusion")[0].1,
        body,
        &[("x-sf-signature", &signature)],
        false,
    )
    .to_string();
    let respond = || async {
        hookwarden_aws::lambda::invoke(handler.clone(), event.as_bytes(), settings.max_body_bytes)
            .await
            .expect("a function URL event")
    };

    proxy.set(Target::SecretsManager, Fault::Drop);
    let started = Instant::now();
    let reply = respond().await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        elapsed < DEPENDENCY_TIMEOUT + SLACK,
        "answered after {elapsed:?}"
    );
    let lines = logs.take();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(
        (lines[0]["outcome"].as_str(), lines[0]["status"].as_u64()),
        (Some("unavailable"), Some(503))
    );
    assert!(
        keys(&moto).await.is_empty(),
        "stored while the secret was unreadable"
    );

    proxy.heal();
    // A failed read of the current secret is remembered for a few seconds (every request in
    // between is answered 503 without a read), then read again.
    tokio::time::sleep(hookwarden_pipeline::secrets::FAILED_CURRENT_RETRY).await;
    let reply = respond().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines = logs.take();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "stored");
    let id = hex::encode(sha2::Sha256::digest(body));
    assert!(keys(&moto)
        .await
        .iter()
        .any(|k| k.ends_with(&format!("/{id}.json"))));

    let text = String::from_utf8(logs.all()).expect("log lines are UTF-8");
    assert_no_needles(
        &[("in-process", &text)],
        &[secret, signature, "BODY-MARKER".into()],
    );
}

/// The JSON log lines of this thread (a current-thread test), as the functions write them.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<(Vec<u8>, usize)>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The lines written since the last call.
    fn take(&self) -> Vec<Value> {
        let mut state = self.0.lock().unwrap();
        let (bytes, read) = &mut *state;
        let new = String::from_utf8(bytes[*read..].to_vec()).unwrap();
        *read = bytes.len();
        new.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn all(&self) -> Vec<u8> {
        self.0.lock().unwrap().0.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Load under the Runtime API.

/// How many function processes poll the Runtime API. Lambda gives each execution environment
/// one event at a time, so 32 processes are 32 concurrent executions. moto, one Python process,
/// is the bottleneck well before that: 8 processes deliver as many events per second.
const PROCESSES: usize = 32;
/// Invocations in flight on the Runtime API: one per process.
const IN_FLIGHT: usize = 32;
const LAMBDA_DELIVERIES: usize = 10_000;
/// The whole load, on a busy two-core machine in a debug build; about a minute here.
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// What a delivery is, and what it must produce.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    First,
    Duplicate,
    Forged,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_the_runtime_api() {
    let _machine = MACHINE.write().await;
    let moto = moto_with_bucket().await;
    let api = Arc::new(RuntimeApi::start().await);
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("HOOKWARDEN_SINK", "s3"),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "10000"),
        ("KNOX_CERT_KEY", CERT_KEY),
        ("KNOX_SUBSCRIPTION_IDS", "123456789123"),
    ];
    let processes: Vec<FunctionProcess> = (0..PROCESSES)
        .map(|_| api.spawn_function(BINARY, &env))
        .collect();

    // 75 % first deliveries, 20 % redeliveries of one of them, 5 % forgeries.
    let key = test_signing_key();
    let forger = {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        RsaSigningKey::from_pkcs8_der(&pair.serialize_der()).unwrap()
    };
    let firsts = LAMBDA_DELIVERIES * 75 / 100;
    let duplicates = LAMBDA_DELIVERIES * 20 / 100;
    let forgeries = LAMBDA_DELIVERIES - firsts - duplicates;
    let signing = Instant::now();
    // RSA signing dominates the setup in a debug build: spread it over the cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let traces: Vec<String> = (0..firsts).map(|n| format!("load-{n}")).collect();
    let signed_events: Vec<(Value, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = traces
            .chunks(firsts.div_ceil(threads))
            .map(|chunk| {
                let key = &key;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|trace| signed(&knox_body(trace), trace, key))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut deliveries: Vec<(Kind, String, Value)> = Vec::with_capacity(LAMBDA_DELIVERIES);
    let mut signatures = Vec::new();
    for (trace, (event, signature)) in traces.into_iter().zip(signed_events) {
        signatures.push(signature);
        deliveries.push((Kind::First, trace, event));
    }
    for n in 0..duplicates {
        let (_, trace, event) = deliveries[(n * 7) % firsts].clone();
        deliveries.push((Kind::Duplicate, trace, event));
    }
    for n in 0..forgeries {
        let trace = format!("forged-{n}");
        let event = if n % 2 == 0 {
            // A body changed under a real signature.
            let mut event = deliveries[n % firsts].2.clone();
            event["headers"]["x-wsm-traceid"] = trace.clone().into();
            event["body"] = String::from_utf8(knox_body(&trace)).unwrap().into();
            event
        } else {
            signed(&knox_body(&trace), &trace, &forger).0
        };
        deliveries.push((Kind::Forged, trace, event));
    }
    shuffle(&mut deliveries, 0x9E37_79B9_7F4A_7C15);
    eprintln!(
        "signed {} deliveries in {:?}",
        deliveries.len(),
        signing.elapsed()
    );

    let started = Instant::now();
    let run = async {
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for (kind, trace, event) in deliveries {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let api = api.clone();
            tasks.spawn(async move {
                let sent = Instant::now();
                let response = api.invoke(event, INVOKE_TIMEOUT).await;
                drop(permit);
                (kind, trace, response, sent.elapsed())
            });
        }
        let mut latencies = Vec::with_capacity(LAMBDA_DELIVERIES);
        let mut valid_ids = BTreeSet::new();
        while let Some(joined) = tasks.join_next().await {
            let (kind, trace, response, latency) = joined.unwrap();
            let response = response.unwrap_or_else(|err| panic!("{trace}: {err}"));
            let status = response["statusCode"].as_u64().unwrap();
            match kind {
                Kind::First | Kind::Duplicate => {
                    assert_eq!(status, 200, "{trace}: {response}");
                    valid_ids.insert(id_of_tag(&trace));
                }
                Kind::Forged => assert_eq!(status, 401, "{trace}: {response}"),
            }
            latencies.push(latency);
        }
        (latencies, valid_ids)
    };
    let (mut latencies, valid_ids) = tokio::time::timeout(LOAD_TIME_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("{LAMBDA_DELIVERIES} deliveries took over {LOAD_TIME_LIMIT:?}"));
    let wall = started.elapsed();

    // Exactly the unique valid events are stored: none lost, none forged, none twice.
    let stored: BTreeSet<String> = event_keys(&moto, "knox")
        .await
        .iter()
        .map(|k| event_id(k).to_string())
        .collect();
    assert_eq!(stored.len(), firsts, "one object per unique delivery");
    assert_eq!(stored, valid_ids, "exactly the valid events, so no forgery");
    // One request line per delivery across the processes.
    let lines: usize = processes
        .iter()
        .map(|p| {
            p.stdout()
                .lines()
                .filter(|l| l.contains("\"outcome\""))
                .count()
        })
        .sum();
    assert_eq!(lines, LAMBDA_DELIVERIES, "request log lines");

    // The handler's own time per request, from its log lines (the latencies above include
    // the wait in the Runtime API's queue).
    let mut handler_ms: Vec<f64> = processes
        .iter()
        .flat_map(|p| {
            p.stdout()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["latency_ms"].as_f64())
                .collect::<Vec<_>>()
        })
        .collect();
    handler_ms.sort_by(f64::total_cmp);
    let handler_percentile =
        |p: f64| handler_ms[((handler_ms.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "runtime API load: handler time p50 {:.1} ms, p99 {:.1} ms",
        handler_percentile(0.50),
        handler_percentile(0.99)
    );
    latencies.sort();
    eprintln!(
        "runtime API load: {LAMBDA_DELIVERIES} deliveries ({firsts} unique, {duplicates} duplicates, \
         {forgeries} forged) through {PROCESSES} function processes, {IN_FLIGHT} in flight: \
         {:.0} deliveries/s, p50 {:?}, p99 {:?}, max {:?}, wall {wall:?}",
        LAMBDA_DELIVERIES as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );

    let logs: Vec<(String, String)> = processes
        .iter()
        .enumerate()
        .map(|(n, p)| {
            (
                format!("function-{n}"),
                format!("{}{}", p.stdout(), p.stderr()),
            )
        })
        .collect();
    signatures.push("BODY-MARKER".into());
    assert_no_needles(&logs, &signatures);
}

/// What an operator sees with `RUST_LOG=debug` (the level one sets to troubleshoot) while the
/// function reads the Knox API credentials from Secrets Manager, gets a token, downloads the
/// certificate and stores a delivery: still no secret, token, signature or body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_hold_no_secret_token_signature_or_body() {
    let _machine = MACHINE.read().await;
    let level = std::env::var("HOOKWARDEN_AUDIT_LOG_LEVEL").unwrap_or_else(|_| "debug".into());
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    let token = "TEST-ONLY-knox-access-token-5c1e9a";
    let certificate = test_key("knox-test-cert.pem");
    let knox_api = hookwarden_testkit::http_stub::StubServer::start(move |request, _| {
        use hookwarden_testkit::http_stub::Answer;
        if request.target.starts_with("/ams/v1/oauth2/token") {
            let body = serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 600});
            Answer::new(200, "application/json", body.to_string())
        } else {
            Answer::new(200, "application/x-pem-file", certificate.clone())
        }
    })
    .await;
    let client_secret = "TEST-ONLY-knox-client-secret-b81f";
    let credentials = serde_json::json!({
        "client_id": "TEST-ONLY-client", "client_secret": client_secret, "base_url": knox_api.url(),
    });
    moto.create_secret("knox/api", &credentials.to_string())
        .await;
    let pin = test_certificate_pin();
    let function = Function::start(
        &moto.endpoint(),
        CERT_KEY,
        &[
            ("KNOX_API_SECRET_ID", "knox/api"),
            ("KNOX_CERT_SPKI_SHA256", &pin),
            ("RUST_LOG", &level),
        ],
    )
    .await;
    let (event, signature) = signed(&knox_body("debug"), "debug", &test_signing_key());
    let call = function.call(event).await;
    assert_eq!(call.status, 200, "{}\n{}", call.body, function.logs());
    assert!(stored(&moto, "debug").await.is_some());
    assert_eq!(
        knox_api.requests().len(),
        2,
        "a token, then the certificate"
    );
    audit(
        "debug_logs",
        &[&function],
        &[
            client_secret.into(),
            token.into(),
            signature,
            "BODY-MARKER".into(),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// The log audit.

/// Runs `scripts/log-audit.sh` on each function's stdout and stderr: no log may hold a
/// signature, a body marker or a secret.
fn audit(name: &str, functions: &[&Function], needles: &[String]) {
    let logs: Vec<(String, String)> = functions
        .iter()
        .enumerate()
        .flat_map(|(n, function)| {
            [
                (
                    format!("{name}-function-{n}.stdout"),
                    function.process.stdout(),
                ),
                (
                    format!("{name}-function-{n}.stderr"),
                    function.process.stderr(),
                ),
            ]
        })
        .collect();
    assert_no_needles(&logs, needles);
}
