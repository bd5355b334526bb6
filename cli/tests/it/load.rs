//! Load through `hookwarden serve` (the Lambda pipeline with local adapters) on loopback:
//! 10,000 signed deliveries across the three providers, 20 % of them redeliveries and 5 %
//! forgeries, 32 in flight. Exactly the unique valid events must be stored and published —
//! none lost, none forged, none twice — every valid delivery answered 200, every forgery
//! refused, one log line per request, and no secret, signature or body in the log.
//! Prints throughput and latency percentiles.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwarden_pipeline::local::files_under;
use hookwarden_testkit::load::{percentile, shuffle};
use hookwarden_testkit::log_audit::assert_no_needles;
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::{knox, scalefusion};
use sha2::Digest as _;

use crate::support::{start_serve, test_keys_dir};

const DELIVERIES: usize = 10_000;
const IN_FLIGHT: usize = 32;
/// Every request must be answered well inside this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `hookwarden serve --port 0` on a fresh data directory; its log (stderr) goes to a file.
struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let log = dir.path().join("serve.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let (child, port, _) = start_serve(&data, &[], stderr.into());
        Server {
            child,
            port,
            data,
            log,
            _dir: dir,
        }
    }

    /// File names (without `.json`) of the stored envelopes of `provider`.
    fn stored(&self, provider: &str) -> BTreeSet<String> {
        files_under(&self.data.join(provider))
            .into_iter()
            .filter(|p| !p.components().any(|c| c.as_os_str() == "_state"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Knox,
    Scalefusion,
    OneAccess,
}

impl Provider {
    fn path(self) -> &'static str {
        match self {
            Provider::Knox => "/knox",
            Provider::Scalefusion => "/scalefusion",
            Provider::OneAccess => "/oneaccess",
        }
    }

    fn dir(self) -> &'static str {
        &self.path()[1..]
    }

    /// The provider's answer to a forgery.
    fn forged_status(self) -> u16 {
        match self {
            Provider::Scalefusion => 406,
            Provider::Knox | Provider::OneAccess => 401,
        }
    }
}

/// One request: where it goes, what it carries, and what it must get.
#[derive(Clone)]
struct Delivery {
    provider: Provider,
    /// The name its envelope is stored under; `None` for a forgery.
    stored_as: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

struct Keys {
    knox: RsaSigningKey,
    scalefusion: String,
    oneaccess: Config,
}

impl Keys {
    fn load() -> Keys {
        let read = |name: &str| std::fs::read_to_string(test_keys_dir().join(name)).unwrap();
        let scalefusion: serde_json::Value =
            serde_json::from_str(&read("scalefusion-secret.json")).unwrap();
        Keys {
            knox: RsaSigningKey::from_pkcs8_pem(&read("knox-test-key.pem")).unwrap(),
            scalefusion: scalefusion["secret_key"].as_str().unwrap().to_string(),
            oneaccess: Config::from_secret_json(&read("oneaccess-encrypted.json")).unwrap(),
        }
    }

    /// Strings that must never appear in a log.
    fn secrets(&self) -> Vec<String> {
        let oneaccess = &self.oneaccess;
        vec![
            self.scalefusion.clone(),
            oneaccess.bearer_token.to_string(),
            oneaccess.signature_key.as_ref().unwrap().to_string(),
            oneaccess.encryption.as_ref().unwrap().key.to_string(),
        ]
    }
}

fn knox_body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{{"imei":"BODY-MARKER-{n}","batteryLevel":{},"ratio":1.10}}}}"#,
        n % 100
    )
    .into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The id hookwarden gives a OneAccess callback: HMAC-SHA256 of `nonce&timestamp&eventType&data`
/// under the signature key (docs/design/identity.md).
fn oneaccess_id(body: &str, config: &oneaccess::Config) -> String {
    use hmac::Mac as _;
    let fields: serde_json::Value = serde_json::from_str(body).unwrap();
    let text = |name: &str| match &fields[name] {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let signed = oneaccess::signed_content(
        &text("nonce"),
        &text("timestamp"),
        &text("eventType"),
        &text("data"),
    );
    let key = config
        .signature_key
        .as_ref()
        .expect("the test config signs");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&signed);
    hex::encode(mac.finalize().into_bytes())
}

/// The first delivery number `n` of `provider`, valid.
fn first_delivery(provider: Provider, n: usize, keys: &Keys, now_ms: i64) -> Delivery {
    let json = ("content-type", "application/json".to_string());
    match provider {
        Provider::Knox => {
            let trace = format!("knox-{n}");
            let body = knox_body(n);
            let canonical = hookwarden_verify::jackson::canonicalize(&body).unwrap();
            // Signed later, in parallel: RSA signing dominates the setup in a debug build.
            Delivery {
                provider,
                stored_as: Some(sha256_hex(&canonical)),
                headers: vec![
                    json,
                    ("x-wsm-traceid", trace),
                    ("x-knox-nonce", format!("nonce-{n}")),
                ],
                body,
            }
        }
        Provider::Scalefusion => {
            let id = format!("sf-{n}");
            let body = format!(
                r#"{{"id":"{id}","event":"device.enrolled","data":{{"devices":[{{"name":"BODY-MARKER-{n}"}}]}}}}"#
            )
            .into_bytes();
            let signature = scalefusion::sign(keys.scalefusion.as_bytes(), &body);
            Delivery {
                provider,
                stored_as: Some(sha256_hex(&body)),
                headers: vec![json, ("x-sf-signature", signature)],
                body,
            }
        }
        Provider::OneAccess => {
            let nonce = format!("nonce{n:011}");
            let msg = format!(
                r#"{{"username":"user{n}","name":"BODY-MARKER-{n}","password":"P@ssw0rd-{n}"}}"#
            );
            let body =
                oneaccess::build_request("CREATE_USER", &msg, &keys.oneaccess, &nonce, now_ms)
                    .unwrap();
            let bearer = format!("Bearer {}", keys.oneaccess.bearer_token.as_str());
            Delivery {
                provider,
                stored_as: Some(oneaccess_id(&body, &keys.oneaccess)),
                headers: vec![json, ("authorization", bearer)],
                body: body.into_bytes(),
            }
        }
    }
}

/// A forgery of `original`: the body changed under its signature (Knox, OneAccess) or signed
/// with a guessed secret (Scalefusion).
fn forged(original: &Delivery, n: usize) -> Delivery {
    let mut forged = original.clone();
    forged.stored_as = None;
    match original.provider {
        Provider::Knox => {
            forged.body = knox_body(1_000_000 + n);
            for (name, value) in &mut forged.headers {
                if *name == "x-wsm-traceid" {
                    *value = format!("forged-{n}");
                }
            }
        }
        Provider::Scalefusion => {
            for (name, value) in &mut forged.headers {
                if *name == "x-sf-signature" {
                    *value = scalefusion::sign(b"a guessed secret", &original.body);
                }
            }
        }
        Provider::OneAccess => {
            let mut fields: serde_json::Value = serde_json::from_slice(&original.body).unwrap();
            fields["eventType"] = "DELETE_USER".into();
            forged.body = fields.to_string().into_bytes();
        }
    }
    forged
}

/// Signs every Knox delivery, spread over the machine's cores.
fn sign_knox(deliveries: &mut [Delivery], key: &RsaSigningKey) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let knox: Vec<&mut Delivery> = deliveries
        .iter_mut()
        .filter(|d| d.provider == Provider::Knox)
        .collect();
    let chunk = knox.len().div_ceil(threads).max(1);
    let mut knox = knox;
    std::thread::scope(|scope| {
        for part in knox.chunks_mut(chunk) {
            scope.spawn(move || {
                for delivery in part {
                    let signature = knox::sign(&delivery.body, key).unwrap();
                    delivery.headers.push(("x-wsm-signature", signature));
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_deliveries_store_exactly_the_unique_valid_events() {
    let keys = Keys::load();
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let firsts = DELIVERIES * 75 / 100;
    let duplicates = DELIVERIES * 20 / 100;
    let forgeries = DELIVERIES - firsts - duplicates;
    let providers = [Provider::Knox, Provider::Scalefusion, Provider::OneAccess];

    let setup = Instant::now();
    let mut unique: Vec<Delivery> = (0..firsts)
        .map(|n| first_delivery(providers[n % 3], n, &keys, now_ms))
        .collect();
    sign_knox(&mut unique, &keys.knox);
    let mut all = unique.clone();
    all.extend((0..duplicates).map(|n| unique[(n * 7) % firsts].clone()));
    all.extend((0..forgeries).map(|n| forged(&unique[(n * 13) % firsts], n)));
    shuffle(&mut all, 0x2545_F491_4F6C_DD1D);
    eprintln!(
        "built and signed {} deliveries in {:?}",
        all.len(),
        setup.elapsed()
    );

    let server = Server::start();
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .unwrap();
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for delivery in all.iter().cloned() {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (http, url) = (http.clone(), format!("{base}{}", delivery.provider.path()));
        tasks.spawn(async move {
            let mut request = http.post(url).body(delivery.body.clone());
            for (name, value) in &delivery.headers {
                request = request.header(*name, value);
            }
            let sent = Instant::now();
            let response = request.send().await;
            let status = match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(err) => panic!("{:?}: {err}", delivery.stored_as),
            };
            drop(permit);
            (delivery, status, sent.elapsed())
        });
    }
    let mut latencies = Vec::with_capacity(DELIVERIES);
    let mut wrong = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (delivery, status, latency) = joined.unwrap();
        let expected = match delivery.stored_as {
            Some(_) => 200,
            None => delivery.provider.forged_status(),
        };
        if status != expected {
            wrong.push(format!(
                "{:?} {:?}: {status}, expected {expected}",
                delivery.provider, delivery.stored_as
            ));
        }
        latencies.push(latency);
    }
    let wall = started.elapsed();
    assert!(
        wrong.is_empty(),
        "{} wrong answers, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );

    // Exactly the unique valid events, per provider, in the store and on the bus.
    for provider in providers {
        let expected: BTreeSet<String> = unique
            .iter()
            .filter(|d| d.provider == provider)
            .map(|d| d.stored_as.clone().unwrap())
            .collect();
        assert_eq!(
            server.stored(provider.dir()),
            expected,
            "{provider:?}: stored events"
        );
    }
    // Every unique valid event on the bus, and nothing else. A duplicate that arrives while
    // its original is still between the S3 write and the publish publishes it too
    // (docs/design/identity-and-delivery.md: consumers dedupe on the envelope id), so copies are
    // counted and bounded.
    let bus_ids: Vec<String> = files_under(&server.data.join("eventbridge"))
        .iter()
        .map(|path| {
            let event: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            event["detail"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    let published = bus_ids.len();
    let expected_ids: BTreeSet<String> = unique
        .iter()
        .map(|d| d.stored_as.clone().unwrap())
        .collect();
    assert_eq!(
        bus_ids.into_iter().collect::<BTreeSet<_>>(),
        expected_ids,
        "event ids on the bus"
    );
    let copies = published - firsts;
    assert!(
        copies <= duplicates,
        "{copies} extra bus events for {duplicates} duplicate deliveries"
    );

    // One log line per request.
    let log = std::fs::read_to_string(&server.log).unwrap();
    let request_lines = log.lines().filter(|line| line.contains("outcome=")).count();
    assert_eq!(request_lines, DELIVERIES, "request log lines");

    latencies.sort();
    eprintln!(
        "hookwarden serve load: {DELIVERIES} deliveries ({firsts} unique, {duplicates} duplicates, \
         {forgeries} forged; knox, scalefusion, oneaccess in equal parts), {IN_FLIGHT} in flight: \
         {:.0} requests/s, p50 {:?}, p99 {:?}, max {:?}, wall {wall:?}; {copies} bus event(s) \
         published twice by a concurrent duplicate",
        DELIVERIES as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );

    // No secret, signature or body marker in the log.
    let mut needles = keys.secrets();
    needles.extend(["BODY-MARKER".to_string(), "P@ssw0rd".to_string()]);
    for delivery in &unique {
        for (name, value) in &delivery.headers {
            if matches!(*name, "x-wsm-signature" | "x-sf-signature") {
                needles.push(value.clone());
            }
        }
    }
    assert_no_needles(&[("serve", &log)], &needles);
}
