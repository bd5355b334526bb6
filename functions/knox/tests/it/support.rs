//! Fixtures of the suites: the function and its certificate key, the machine lock, event ids,
//! the test certificate's pin, parallel signing; and for `function_url`, `faults` and `load`,
//! one function process on its own Runtime API, the requests they send it, and the log audit.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hookwarden_testkit::deployment::BUCKET;
use hookwarden_testkit::log_audit::assert_no_needles;
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;
use serde_json::Value;
use sha2::Digest as _;

pub const BINARY: &str = env!("CARGO_BIN_EXE_knox-webhook");
pub const CERT_KEY: &str = "knox/_certificate/knox.pem";
/// `HOOKWARDEN_DEPENDENCY_TIMEOUT_MS` of a [`Function`].
pub const DEPENDENCY_TIMEOUT: Duration = Duration::from_millis(2000);
/// How long a [`Function`]'s invocation may take.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Every suite runs in this one process. `load`, `chaos` and `scale` saturate both cores and
/// take this lock exclusively; every other test that starts function processes, or times an
/// answer, takes it shared: no timing measures another test's load.
pub static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The event id hookwarden gives a Knox body: SHA-256 of the canonical form Samsung signs.
pub fn id_of(body: &[u8]) -> String {
    let canonical = hookwarden_verify::jackson::canonicalize(body).unwrap();
    hex::encode(sha2::Sha256::digest(&canonical))
}

/// SHA-256 of the test certificate's SubjectPublicKeyInfo: its `KNOX_CERT_SPKI_SHA256` pin (a
/// download needs one).
pub fn test_certificate_pin() -> String {
    hookwarden_verify::x509::KnoxCertificate::parse(test_key("knox-test-cert.pem").as_bytes())
        .unwrap()
        .spki_sha256()
        .to_string()
}

/// `sign` applied to every item, spread over the cores: RSA signing dominates the setup of a
/// large run in a debug build.
pub fn sign_in_parallel<T: Sync, R: Send>(items: &[T], sign: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(items.len().div_ceil(threads).max(1))
            .map(|chunk| scope.spawn(|| chunk.iter().map(&sign).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// A function process on its own Runtime API, and what one invocation produced.

pub struct Function {
    pub api: RuntimeApi,
    pub process: FunctionProcess,
}

/// One invocation: the reply, how long it took, and the log lines written meanwhile.
pub struct Call {
    pub status: u16,
    pub body: Value,
    pub elapsed: Duration,
    pub lines: Vec<Value>,
}

impl Function {
    /// `knox-webhook` with AWS at `endpoint`, the S3 sink (plus `env`), certificate `cert_key`.
    pub async fn start(endpoint: &str, cert_key: &str, env: &[(&str, &str)]) -> Function {
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

    pub async fn call(&self, event: Value) -> Call {
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

    pub fn logs(&self) -> String {
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
}

impl Call {
    /// The status; exactly one log line for the request, carrying `outcome`, `status` and the
    /// provider; and the metric records (EMF on stdout, not log lines): `SignatureRejected`
    /// exactly when the signature was rejected, `EventsStored` exactly when the event was
    /// stored.
    pub fn expect(&self, name: &str, status: u16, outcome: &str) {
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

pub fn test_signing_key() -> RsaSigningKey {
    RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap()
}

/// A Knox body unique to `id`, with a marker the log audit looks for.
pub fn knox_body(id: &str) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{{"deviceId":"BODY-MARKER-{id}","ratio":1.10}}}}"#
    )
    .into_bytes()
}

/// A function URL event for `body` with `headers`; `base64` sends it as a function URL sends
/// a request without a text Content-Type.
pub fn event(body: &[u8], headers: &[(&str, &str)], base64: bool) -> Value {
    with_request(&samples("knox")[0].1, body, headers, base64)
}

pub fn signed(body: &[u8], trace: &str, key: &RsaSigningKey) -> (Value, String) {
    let signature = knox::sign(body, key).unwrap();
    let event = event(
        body,
        &[("x-wsm-signature", &signature), ("x-wsm-traceid", trace)],
        false,
    );
    (event, signature)
}

pub async fn moto_with_bucket() -> MotoServer {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    moto
}

/// Every key in the bucket.
pub async fn keys(moto: &MotoServer) -> BTreeSet<String> {
    moto.list_keys(BUCKET, "").await.into_iter().collect()
}

/// The envelope key of `knox_body(tag)`, if one is stored.
pub async fn stored(moto: &MotoServer, tag: &str) -> Option<String> {
    let suffix = format!("/{}.json", id_of(&knox_body(tag)));
    keys(moto)
        .await
        .into_iter()
        .find(|k| k.ends_with(&suffix) && !k.contains("/_state/"))
}

// ---------------------------------------------------------------------------------------------
// The log audit.

/// Runs `scripts/log-audit.sh` on each function's stdout and stderr: no log may hold a
/// signature, a body marker or a secret.
pub fn audit(name: &str, functions: &[&Function], needles: &[String]) {
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
