//! `knox-webhook` under faults, run as Lambda runs it (the built binary polling a Runtime API
//! on loopback) against moto's server. AWS fails at the steps that call it: at verify, the
//! certificate read from S3 and the Knox API credentials read from Secrets Manager; at
//! deliver, the one conditional write and then the publish. The faults: S3 stopped mid-run, a
//! dependency that accepts and never answers, the one conditional write failing, EventBridge
//! rejecting the entry, Secrets Manager down. Each gets a 5xx inside the dependency budget,
//! never a 2xx for an event that is not stored, and the same process recovers when the
//! dependency does. With `RUST_LOG=debug`, the logs still hold no secret, token, signature or
//! body.
//!
//! Faults between the function and moto come from [`FaultProxy`], an HTTP proxy on loopback
//! that forwards to moto or, per AWS service, drops the connection or never answers.
//!
//! Every test ends by auditing the function's logs (`scripts/log-audit.sh`) for the
//! signatures, bodies and secrets it handled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookwarden_testkit::deployment::{BUCKET, BUS};
use hookwarden_testkit::log_audit::assert_no_needles;
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::{self, Action, Proxy, Service};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use serde_json::Value;
use sha2::Digest as _;

use crate::support::{
    audit, id_of, keys, knox_body, moto_with_bucket, signed, stored, test_certificate_pin,
    test_signing_key, Call, Function, CERT_KEY, DEPENDENCY_TIMEOUT, INVOKE_TIMEOUT, MACHINE,
};

/// What a 5xx may take beyond the dependency budget: the function's own work, a second
/// dependency call on the way (the certificate before the write, the publish after it),
/// scheduling on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(2500);

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
    assert_eq!(envelope["id"], id_of(&knox_body("half")));
    let published = capture.receive(1, INVOKE_TIMEOUT).await;
    assert_eq!(published.len(), 1, "the retry published it");
    assert_eq!(published[0]["detail"]["id"], id_of(&knox_body("half")));
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
    assert_eq!(published[0]["detail"]["id"], id_of(&knox_body("bus")));
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
    let settings =
        hookwarden_aws::Settings::from_lookup(hookwarden_pipeline::Provider::Scalefusion, |name| {
            env.get(name).map(|v| v.to_string())
        })
        .unwrap();
    let loader = hookwarden_testkit::moto::at_endpoint(
        aws_config::defaults(hookwarden_aws::sdk::behavior_version()),
        &proxy.url,
    );
    let clients = hookwarden_aws::Clients::from_loader(loader, settings.dependency_timeout).await;
    let handler = hookwarden_aws::wire::handler(&settings, &clients);

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
