//! The rig every suite runs on: a temporary data directory holding the store and the bus, the
//! handlers' context (delivery, body limit, clock) over them, a log capture, and the committed
//! Knox test key and certificate. Each suite adds the views it needs in its own `impl Rig`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::{Delivery, Sinks};
use hookwarden_pipeline::local::{files_under, DirStore, FileBus};
use hookwarden_pipeline::ports::ObjectStore;
use hookwarden_pipeline::{HandlerContext, Inbound, KnoxHandler};
use time::OffsetDateTime;

pub const KNOX_KEY: &str = include_str!("../../../../events/test-keys/knox-test-key.pem");
pub const KNOX_CERT: &str = include_str!("../../../../events/test-keys/knox-test-cert.pem");
pub const CERT_KEY: &str = "knox/_certificate/knox.pem";
/// 2026-11-18, inside the test certificate's validity (2025–2125).
pub const NOW: i64 = 1_795_000_000;
pub const MAX_BODY: usize = 4096;
/// The subscription the Knox handlers here allow.
pub const KNOX_SUBSCRIPTION: &str = "123456789123";

// ---------------------------------------------------------------------------------------------
// Log capture: the pipeline's tracing events as JSON lines, one test at a time. Each test runs
// on a current-thread runtime with the subscriber set as that thread's default, so tests in
// parallel threads do not see each other's lines.

#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.0.clone())
    }
}

impl Logs {
    /// Installs the JSON subscriber (as the functions configure it: info and above) for this
    /// thread until the guard is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(self.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The lines written since the last call.
    pub fn take(&self) -> Vec<serde_json::Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .expect("log lines are UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("each log line is JSON"))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The rig.

pub struct Rig {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub store: Arc<DirStore>,
    pub logs: Logs,
    /// Every line logged by every row, for the secrets check at the end.
    pub all_lines: Vec<String>,
}

impl Rig {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store = Arc::new(DirStore::new(root.join("store")));
        Self {
            _dir: dir,
            root,
            store,
            logs: Logs::default(),
            all_lines: Vec::new(),
        }
    }

    /// Delivery to the store and the bus under `prefix`, the body limit, the clock at `now`.
    pub fn context(&self, prefix: &str, now: i64) -> HandlerContext {
        let bus = Arc::new(FileBus::new(self.root.join("bus")));
        HandlerContext {
            delivery: Some(Delivery::new(
                self.store.clone(),
                Sinks::S3AndEventBridge(bus),
                prefix,
            )),
            max_body: MAX_BODY,
            clock: Clock::fixed(OffsetDateTime::from_unix_timestamp(now).unwrap()),
        }
    }

    /// The Knox handler allowing [`KNOX_SUBSCRIPTION`], with the test certificate stored first
    /// when `with_certificate`.
    pub async fn knox(&self, now: i64, with_certificate: bool) -> KnoxHandler {
        if with_certificate {
            self.store
                .put(CERT_KEY, KNOX_CERT.as_bytes().to_vec(), "")
                .await
                .unwrap();
        }
        self.knox_unlisted(now)
            .allow_subscriptions([KNOX_SUBSCRIPTION.to_string()])
    }

    /// A Knox handler with no subscription listed (the onboarding default).
    pub fn knox_unlisted(&self, now: i64) -> KnoxHandler {
        let certs = CertificateCache::new(self.store.clone(), CERT_KEY, None);
        KnoxHandler::new(self.context("knox", now), certs)
    }
}

/// The files below `dir`, as paths relative to it.
pub fn files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|path| path.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// A request from 192.0.2.1 with any method, and header values of any bytes.
pub fn request(method: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Inbound {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    Inbound {
        method: method.parse().unwrap(),
        headers: map,
        body: body.to_vec().into(),
        source_ip: Some("192.0.2.1".into()),
    }
}

pub fn post(headers: &[(&str, &str)], body: &[u8]) -> Inbound {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    request("POST", &headers, body)
}
