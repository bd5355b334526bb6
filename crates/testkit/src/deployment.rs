//! A function deployed the way the tests deploy it: the built binary under the Runtime API,
//! moto's server as AWS, an events bucket and an EventBridge bus created on it.

use std::time::Duration;

use crate::moto::MotoServer;
use crate::runtime_api::{FunctionProcess, RuntimeApi};

pub const BUCKET: &str = "hookwarden-events";
pub const BUS: &str = "hookwarden";
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Deployment {
    pub moto: MotoServer,
    pub api: RuntimeApi,
    pub function: Option<FunctionProcess>,
    binary: String,
}

impl Deployment {
    /// moto with the bucket and bus, and the Runtime API; no function yet, so a test can
    /// prepare secrets and objects the function will read.
    pub async fn prepare(binary: &str) -> Deployment {
        let moto = MotoServer::start();
        moto.create_bucket(BUCKET).await;
        moto.create_event_bus(BUS).await;
        let api = RuntimeApi::start().await;
        Deployment {
            moto,
            api,
            function: None,
            binary: binary.to_string(),
        }
    }

    /// Starts the function with `HOOKWARDEN_SINK = sink` (and the bucket and, when the sink
    /// has it, the bus) plus `env`.
    pub fn start(&mut self, sink: Option<&str>, env: &[(&str, &str)]) {
        self.start_without(sink, env, &[]);
    }

    /// As [`Deployment::start`], with the variables `removed` taken out of the environment.
    pub fn start_without(&mut self, sink: Option<&str>, env: &[(&str, &str)], removed: &[&str]) {
        let endpoint = self.moto.endpoint();
        let mut all = vec![
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "5000"),
        ];
        if let Some(sink) = sink {
            all.extend([("HOOKWARDEN_SINK", sink), ("HOOKWARDEN_BUCKET", BUCKET)]);
            if sink.contains("eventbridge") {
                all.push(("HOOKWARDEN_EVENT_BUS", BUS));
            }
        }
        all.extend_from_slice(env);
        self.function = Some(self.api.spawn_function_without(&self.binary, &all, removed));
    }

    /// The function's reply: HTTP status and JSON body.
    pub async fn invoke(&self, event: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .api
            .invoke(event, INVOKE_TIMEOUT)
            .await
            .unwrap_or_else(|err| {
                let (stdout, stderr) = self
                    .function
                    .as_ref()
                    .map(|f| (f.stdout(), f.stderr()))
                    .unwrap_or_default();
                panic!("{err}\nstdout:\n{stdout}\nstderr:\n{stderr}")
            });
        let status = response["statusCode"].as_u64().expect("a status code") as u16;
        let body = serde_json::from_str(response["body"].as_str().expect("a text body"))
            .expect("a JSON body");
        (status, body)
    }

    /// Keys of stored envelopes under `prefix/` (the dedupe state under `_state/` left out).
    pub async fn events(&self, prefix: &str) -> Vec<String> {
        event_keys(&self.moto, prefix).await
    }

    /// A stored envelope as JSON.
    pub async fn envelope(&self, key: &str) -> serde_json::Value {
        let bytes = self
            .moto
            .get_object(BUCKET, key)
            .await
            .expect("the object exists");
        serde_json::from_slice(&bytes).expect("an envelope is JSON")
    }

    /// Fails the test if the function's logs hold any of `needles` ([`crate::log_audit`]).
    pub fn assert_logs_clean(&self, needles: &[String]) {
        crate::log_audit::assert_no_needles(&[("function", &self.logs())], needles);
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.function
            .as_ref()
            .map(|f| format!("{}{}", f.stdout(), f.stderr()))
            .unwrap_or_default()
    }
}

/// Keys of the envelopes stored in [`BUCKET`] under `prefix/`: the dedupe state (`_state/`),
/// quarantined Knox callbacks (`_quarantine/`) and certificates left out.
pub async fn event_keys(moto: &MotoServer, prefix: &str) -> Vec<String> {
    let keys = moto.list_keys(BUCKET, &format!("{prefix}/")).await;
    keys.into_iter()
        .filter(|k| {
            ![
                "/_state/",
                "/_quarantine/",
                "/_certificate/",
                "/_certificates/",
            ]
            .iter()
            .any(|folder| k.contains(folder))
        })
        .collect()
}

/// The key of the envelope with `id` under `prefix`, as the pipeline writes it.
pub fn event_key(prefix: &str, id: &str) -> String {
    hookwarden_pipeline::delivery::event_key(prefix, id)
}

/// The event id an envelope key ends in (`…/{id}.json`).
pub fn event_id(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.strip_suffix(".json").unwrap_or(name)
}
