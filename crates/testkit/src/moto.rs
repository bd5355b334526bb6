//! moto's server (`moto.server.main`) on 127.0.0.1: real AWS wire protocols for S3,
//! Secrets Manager, EventBridge and SQS, state in memory, one process per [`MotoServer`].
//! It answers in HTTP/1.1, but werkzeug 3 closes the connection after every answer
//! (`Connection: close`); the benchmark puts [`crate::proxy`] in front, so the
//! functions keep their connections as they do against AWS endpoints.
//!
//! Needs moto 5.2.1 or later (`pip install 'moto[server]>=5.2.1'`): older versions answer a
//! conditional PutObject on an existing key with 500 instead of 412.

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region};

/// `python3 -m moto.server` with werkzeug's request handler switched to HTTP/1.1.
const KEEP_ALIVE_MOTO: &str = "import sys\n\
from werkzeug.serving import WSGIRequestHandler\n\
WSGIRequestHandler.protocol_version = 'HTTP/1.1'\n\
from moto.server import main\n\
main(sys.argv[1:])\n";
const INSTALL_HINT: &str = "install moto[server]>=5.2.1 (pip install 'moto[server]>=5.2.1')";
const MIN_VERSION: (u32, u32, u32) = (5, 2, 1);
/// moto imports every service it emulates before it listens: about 2 s here.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// moto's default account, which appears in the ARNs it makes.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// A bound for the harness's own setup calls, so a broken moto fails a test instead of
/// hanging it.
const HELPER_TIMEOUT: Duration = Duration::from_secs(20);

/// Points `loader` at `endpoint` (moto, a stub, a TLS proxy): region us-east-1, dummy static
/// credentials.
pub fn at_endpoint(loader: ConfigLoader, endpoint: &str) -> ConfigLoader {
    loader
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
}

pub struct MotoServer {
    port: u16,
    child: Option<Child>,
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts moto on a free port and waits until it accepts connections.
    pub fn start() -> MotoServer {
        check_moto_version();
        let mut server = MotoServer {
            port: crate::free_port(),
            child: None,
            log: tempfile::NamedTempFile::new().expect("creating moto's log file"),
        };
        server.spawn();
        server
    }

    /// `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server: calls are then refused. State is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts a fresh one (empty state) on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel but never
    /// answered, as with an AWS endpoint that hangs. State is kept.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`MotoServer::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// What moto printed so far (its request log and any traceback).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Points `loader` at this server: its endpoint, region us-east-1, dummy static
    /// credentials. Whatever else `loader` sets (timeouts, retries) is kept.
    pub fn configure(&self, loader: ConfigLoader) -> ConfigLoader {
        at_endpoint(loader, &self.endpoint())
    }

    /// A configuration for the harness's own clients.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.configure(aws_config::defaults(BehaviorVersion::latest()))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(HELPER_TIMEOUT)
                    .build(),
            )
            .load()
            .await
    }

    /// An S3 client for this server (path-style addressing).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
    }

    pub async fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk_config().await)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        self.s3()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("CreateBucket on moto");
    }

    /// Every key in `bucket` under `prefix`, sorted.
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let s3 = self.s3().await;
        let mut keys = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.expect("ListObjectsV2 on moto");
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        keys
    }

    /// The object's bytes, `None` when there is none.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self
            .s3()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Some(
                output
                    .body
                    .collect()
                    .await
                    .expect("reading an object from moto")
                    .to_vec(),
            ),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(err) => panic!("GetObject {bucket}/{key} on moto: {err:?}"),
        }
    }

    pub async fn put_object(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.s3()
            .await
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into().into())
            .send()
            .await
            .expect("PutObject on moto");
    }

    /// Creates a secret with `value` as its AWSCURRENT version; returns that version's id.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let output = self
            .secrets_manager()
            .await
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("CreateSecret on moto");
        output
            .version_id()
            .expect("CreateSecret returns a version id")
            .to_string()
    }

    /// Rotates: `value` becomes AWSCURRENT and the old current version AWSPREVIOUS. Returns
    /// the new version's id.
    pub async fn put_secret_value(&self, name: &str, value: &str) -> String {
        let output = self
            .secrets_manager()
            .await
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .expect("PutSecretValue on moto");
        output
            .version_id()
            .expect("PutSecretValue returns a version id")
            .to_string()
    }

    pub async fn create_event_bus(&self, name: &str) {
        self.eventbridge()
            .await
            .create_event_bus()
            .name(name)
            .send()
            .await
            .expect("CreateEventBus on moto");
    }

    /// Routes every event on `bus` to a new SQS queue, so tests can read what was published.
    pub async fn capture_events(&self, bus: &str) -> EventCapture {
        let sqs = self.sqs().await;
        let queue = format!(
            "capture-{}",
            bus.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let queue_url = sqs
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .expect("CreateQueue on moto")
            .queue_url()
            .expect("CreateQueue returns a URL")
            .to_string();
        let events = self.eventbridge().await;
        let rule = format!("{queue}-all");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(r#"{"source": [{"prefix": ""}]}"#)
            .send()
            .await
            .expect("PutRule on moto");
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("capture")
                    .arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"))
                    .build()
                    .expect("a target with id and arn"),
            )
            .send()
            .await
            .expect("PutTargets on moto");
        EventCapture { sqs, queue_url }
    }

    fn spawn(&mut self) {
        let log = self.log.reopen().expect("reopening moto's log file");
        let child = Command::new("python3")
            .args([
                "-c",
                KEEP_ALIVE_MOTO,
                "-H",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("starting python3 failed ({err}); {INSTALL_HINT}"));
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "moto exited ({status}) before listening on {address}; {INSTALL_HINT}\n{}",
                    self.log()
                );
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        panic!(
            "moto did not listen on {address} within {START_TIMEOUT:?}\n{}",
            self.log()
        );
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("moto is not running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} moto failed");
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGKILL also ends a paused (SIGSTOPped) process.
        self.stop();
    }
}

/// Events published to a bus, read back through the SQS queue they are routed to.
pub struct EventCapture {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl EventCapture {
    /// Waits up to `timeout` until `count` events have arrived; returns those that did
    /// (full EventBridge events: `source`, `detail-type`, `detail`, …).
    pub async fn receive(&self, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        let started = Instant::now();
        while events.len() < count && started.elapsed() < timeout {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage on moto");
            for message in output.messages() {
                let body = message.body().expect("an SQS message has a body");
                events.push(serde_json::from_str(body).expect("EventBridge delivers JSON"));
            }
        }
        events
    }
}

/// Panics with install instructions unless moto ≥ 5.2.1 is importable. Checked once per
/// test process.
fn check_moto_version() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        let output = Command::new("python3")
            .args(["-c", "import moto, moto.server; print(moto.__version__)"])
            .stderr(Stdio::piped())
            .output()
            .map_err(|err| format!("running python3 failed ({err}); {INSTALL_HINT}"))?;
        if !output.status.success() {
            let mut stderr = String::new();
            let _ = output.stderr.as_slice().read_to_string(&mut stderr);
            return Err(format!("{INSTALL_HINT}\n{stderr}"));
        }
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let version: Vec<u32> = text
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|n| n.parse().unwrap_or(0))
            .collect();
        match version.as_slice() {
            [major, minor, patch] if (*major, *minor, *patch) >= MIN_VERSION => Ok(()),
            _ => Err(format!("moto {text} is too old; {INSTALL_HINT}")),
        }
    });
    if let Err(problem) = result {
        panic!("{problem}");
    }
}
