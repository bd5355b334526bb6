//! Stored history through `hookwarden serve`: every stored object and bus event is one line
//! of JSON that keeps the bytes as sent, DuckDB answers the guide's queries over them, and
//! `hookwarden replay --dir` re-publishes them to serve's local bus once per name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hookwarden_pipeline::local::files_under;
use hookwarden_testkit::deployment::{BUCKET, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::history::{assert_one_line_envelope, body_as_sent, pretty, query_events};
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::{Action, Policy, Proxy, Request, Service};

use crate::support::{
    assert_exit, events_dir, hookwarden, hookwarden_with_env, sample_with_body, start_serve, stdout,
};

/// Events stored by a `hookwarden serve` that has stopped: its data directory.
struct History {
    dir: tempfile::TempDir,
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of a committed sample function URL event.
fn body_of(sample: &Path) -> String {
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(sample).unwrap()).unwrap();
    event["body"].as_str().unwrap().to_string()
}

impl History {
    /// Sends, through `hookwarden serve`: a pretty-printed Knox Guard lock (Samsung's
    /// examples are pretty-printed, and they verify), the same for tenant companyA, a compact
    /// Knox KAI event, and a Scalefusion body with newlines.
    fn record() -> History {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let samples = dir.path().join("samples");
        std::fs::create_dir_all(&samples).unwrap();
        let tenants = data.join("tenants/knox");
        std::fs::create_dir_all(&tenants).unwrap();
        std::fs::copy(
            events_dir().join("tenants/secrets/knox/companyA.json"),
            tenants.join("companyA.json"),
        )
        .unwrap();
        let (child, port, _) = start_serve(&data, &[], Stdio::null());
        let _server = Server(child);
        let knox_lock = events_dir().join("knox/KG_DEVICE_LOCKED.json");
        let tenant_lock = events_dir().join("tenants/knox/companyA/KG_DEVICE_LOCKED.json");
        let scalefusion = events_dir().join("scalefusion/device.locked.json");
        let tenant_samples = samples.join("companyA");
        std::fs::create_dir_all(&tenant_samples).unwrap();
        let sends = [
            (
                "knox",
                None,
                sample_with_body(&knox_lock, &pretty(&body_of(&knox_lock)), &samples),
            ),
            (
                "knox",
                Some("companyA"),
                sample_with_body(
                    &tenant_lock,
                    &pretty(&body_of(&tenant_lock)),
                    &tenant_samples,
                ),
            ),
            (
                "knox",
                None,
                events_dir().join("knox/KAI_BATTERY_STATUS.json"),
            ),
            (
                "scalefusion",
                None,
                sample_with_body(&scalefusion, &pretty(&body_of(&scalefusion)), &samples),
            ),
        ];
        for (provider, tenant, sample) in sends {
            let to = format!("http://127.0.0.1:{port}/{provider}");
            let mut args = vec!["send", provider, sample.to_str().unwrap(), "--to", &to];
            args.extend(tenant.iter().flat_map(|t| ["--tenant", t]));
            let sent = hookwarden(&args);
            assert_exit(&sent, 0);
            assert!(
                stdout(&sent).starts_with("HTTP/1.1 200"),
                "{sample:?}: {}",
                stdout(&sent)
            );
        }
        History { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stored envelopes (no dedupe state, certificate or tenant files).
    fn envelopes(&self) -> Vec<PathBuf> {
        ["knox", "scalefusion"]
            .iter()
            .flat_map(|provider| files_under(&self.data().join(provider)))
            .filter(|p| !p.components().any(|c| c.as_os_str() == "_state"))
            .collect()
    }

    /// Event id by (event type, tenant).
    fn ids(&self) -> BTreeMap<(String, Option<String>), String> {
        self.envelopes()
            .iter()
            .map(|path| {
                let envelope: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                let key = (
                    envelope["event_type"].as_str().unwrap().to_string(),
                    envelope["tenant"].as_str().map(str::to_string),
                );
                (key, envelope["id"].as_str().unwrap().to_string())
            })
            .collect()
    }

    /// The ids of the Knox events, sorted.
    fn knox_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ids()
            .into_iter()
            .filter(|((event_type, _), _)| event_type.starts_with('K'))
            .map(|(_, id)| id)
            .collect();
        ids.sort();
        ids
    }

    fn bus_events(&self) -> Vec<serde_json::Value> {
        files_under(&self.data().join("eventbridge"))
            .iter()
            .map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
            .collect()
    }
}

#[test]
fn serve_stores_every_object_on_one_line_with_the_bytes_as_sent() {
    let history = History::record();
    let envelopes = history.envelopes();
    assert_eq!(envelopes.len(), 4, "{envelopes:?}");
    let mut verbatim = 0;
    for path in &envelopes {
        let bytes = std::fs::read(path).unwrap();
        if assert_one_line_envelope(&bytes, &path.display().to_string()) {
            let text = String::from_utf8(bytes).unwrap();
            let sent = String::from_utf8(body_as_sent(&text)).unwrap();
            assert!(sent.contains("\n  "), "kept pretty-printed: {sent}");
            verbatim += 1;
        }
    }
    assert_eq!(
        verbatim, 3,
        "the three pretty-printed bodies are kept as sent"
    );
    let bus = history.bus_events();
    assert_eq!(bus.len(), 4);
    for path in files_under(&history.data().join("eventbridge")) {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains('\n'), "{}", path.display());
    }
}

#[test]
fn duckdb_answers_the_guides_queries_over_serves_envelopes() {
    let history = History::record();
    let ids = history.ids();
    let lock = &ids[&("KG_DEVICE_LOCKED".to_string(), None)];
    let tenant_lock = &ids[&("KG_DEVICE_LOCKED".to_string(), Some("companyA".to_string()))];
    let answers = query_events(&history.data(), &[("id", lock), ("since", "2026-01-01")]);
    assert_eq!(answers["by-id"].as_array().unwrap().len(), 1, "{answers}");
    assert_eq!(answers["by-id"][0][0], "knox");
    assert_eq!(answers["by-id"][0][1], serde_json::Value::Null);
    assert_eq!(answers["by-id"][0][2], "KG_DEVICE_LOCKED");
    assert_eq!(
        answers["by-type-and-tenant"],
        serde_json::json!([[
            tenant_lock,
            answers["by-type-and-tenant"][0][1],
            "companyA-R52N123ABC"
        ]]),
        "{answers}"
    );
    assert_eq!(
        answers["counts"],
        serde_json::json!([
            ["knox", "companyA", "KG_DEVICE_LOCKED", "1"],
            ["knox", null, "KAI_BATTERY_STATUS", "1"],
            ["knox", null, "KG_DEVICE_LOCKED", "1"],
            ["scalefusion", null, "device.locked", "1"],
        ]),
        "{answers}"
    );
    // A time bound after every event selects none of them.
    let later = query_events(&history.data(), &[("id", lock), ("since", "2999-01-01")]);
    assert_eq!(later["counts"], serde_json::json!([]));
}

#[test]
fn replay_to_serves_local_bus_publishes_once_per_name() {
    let history = History::record();
    let data = history.data();
    let replay = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--dir",
            data.to_str().unwrap(),
            "--prefix",
            "knox",
        ];
        args.extend_from_slice(extra);
        hookwarden(&args)
    };
    let before = history.bus_events().len();
    let dry = replay(&["--name", "first", "--dry-run"]);
    assert_exit(&dry, 0);
    assert!(
        stdout(&dry).ends_with("selected 3, to publish 3, already replayed 0, failed 0\n"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        history.bus_events().len(),
        before,
        "a dry run publishes nothing"
    );

    let first = replay(&["--name", "first"]);
    assert_exit(&first, 0);
    assert!(
        stdout(&first).ends_with("selected 3, published 3, already replayed 0, failed 0\n"),
        "{}",
        stdout(&first)
    );
    let replayed: Vec<serde_json::Value> = history.bus_events()[before..].to_vec();
    let mut ids: Vec<&str> = replayed
        .iter()
        .map(|event| {
            assert_eq!(event["detail"]["replay"]["name"], "first");
            assert_eq!(event["source"], knox_source(event));
            event["detail"]["id"].as_str().unwrap()
        })
        .collect();
    ids.sort();
    let knox_ids = history.knox_ids();
    assert_eq!(ids, knox_ids);

    let again = replay(&["--name", "first"]);
    assert_exit(&again, 0);
    assert!(
        stdout(&again).ends_with("selected 3, published 0, already replayed 3, failed 0\n"),
        "{}",
        stdout(&again)
    );
    let tenant = replay(&["--name", "second", "--tenant", "companyA"]);
    assert!(
        stdout(&tenant).ends_with("selected 1, published 1, already replayed 0, failed 0\n"),
        "{}",
        stdout(&tenant)
    );
    let last = history.bus_events().pop().unwrap();
    assert_eq!(last["detail"]["tenant"], "companyA");
    assert_eq!(last["detail"]["replay"]["name"], "second");
}

/// Copies the stored objects of `prefix` (envelopes and dedupe state) from serve's data
/// directory into moto's bucket under the same keys, as the function would have stored them.
async fn upload(moto: &MotoServer, data: &Path, prefix: &str) -> usize {
    let files = files_under(&data.join(prefix));
    for path in &files {
        let key = path.strip_prefix(data).unwrap().to_str().unwrap();
        moto.put_object(BUCKET, key, std::fs::read(path).unwrap())
            .await;
    }
    files.len()
}

/// Runs `hookwarden replay --bucket … --event-bus …` against `endpoint`.
fn replay_s3(endpoint: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "replay",
        "--bucket",
        BUCKET,
        "--prefix",
        "knox",
        "--event-bus",
        BUS,
    ];
    args.extend_from_slice(extra);
    hookwarden_with_env(
        &args,
        &[
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ],
    )
}

fn summary(output: &std::process::Output) -> String {
    stdout(output)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_s3_publishes_each_event_once_per_name_and_reports_failures() {
    let history = History::record();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.create_event_bus(BUS).await;
    let capture = moto.capture_events(BUS).await;
    assert!(upload(&moto, &history.data(), "knox").await >= 3);
    let endpoint = moto.endpoint();
    let knox_ids = history.knox_ids();
    assert_eq!(knox_ids.len(), 3);

    // A dry run publishes nothing and marks nothing.
    let dry = replay_s3(&endpoint, &["--name", "outage-1", "--dry-run"]);
    assert_exit(&dry, 0);
    assert_eq!(
        summary(&dry),
        "selected 3, to publish 3, already replayed 0, failed 0"
    );
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty());

    let first = replay_s3(&endpoint, &["--name", "outage-1"]);
    assert_exit(&first, 0);
    assert_eq!(
        summary(&first),
        "selected 3, published 3, already replayed 0, failed 0"
    );
    let events = capture.receive(3, INVOKE_TIMEOUT).await;
    let mut ids: Vec<String> = events
        .iter()
        .map(|event| {
            assert_eq!(event["source"], knox_source(event), "{event}");
            assert_eq!(event["detail"]["replay"]["name"], "outage-1", "{event}");
            assert_eq!(event["detail"]["stored_at"]["bucket"], BUCKET, "{event}");
            assert_eq!(event["detail"]["format"], 2, "{event}");
            event["detail"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, knox_ids, "each selected event once");
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty());

    // The same name again: nothing new.
    let again = replay_s3(&endpoint, &["--name", "outage-1"]);
    assert_exit(&again, 0);
    assert_eq!(
        summary(&again),
        "selected 3, published 0, already replayed 3, failed 0"
    );
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty());

    // A new name, one type: only that type.
    let typed = replay_s3(
        &endpoint,
        &["--name", "outage-2", "--type", "KAI_BATTERY_STATUS"],
    );
    assert_exit(&typed, 0);
    assert_eq!(
        summary(&typed),
        "selected 1, published 1, already replayed 0, failed 0"
    );
    let events = capture.receive(2, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "KAI_BATTERY_STATUS");
    assert_eq!(events[0]["detail"]["replay"]["name"], "outage-2");

    // PutEvents failing: every entry reported, exit 3, no marker; the same name later
    // publishes them.
    let policy: Policy = Arc::new(|request: &Request| {
        if request.service == Service::EventBridge && request.operation == "PutEvents" {
            Action::internal_error()
        } else {
            Action::Forward
        }
    });
    let proxy = Proxy::with_policy(&endpoint, policy).await;
    let failed = replay_s3(&proxy.url(), &["--name", "outage-3"]);
    assert_exit(&failed, 3);
    assert_eq!(
        summary(&failed),
        "selected 3, published 0, already replayed 0, failed 3"
    );
    for id in &knox_ids {
        assert!(
            stdout(&failed).contains(&format!("failed {id}: ")),
            "{}",
            stdout(&failed)
        );
    }
    assert!(proxy.answered()["eventbridge PutEvents"] >= 4, "retried");
    assert!(capture.receive(1, Duration::from_secs(2)).await.is_empty());
    let retried = replay_s3(&endpoint, &["--name", "outage-3"]);
    assert_exit(&retried, 0);
    assert_eq!(
        summary(&retried),
        "selected 3, published 3, already replayed 0, failed 0"
    );
    assert_eq!(capture.receive(3, INVOKE_TIMEOUT).await.len(), 3);
    let markers = moto.list_keys(BUCKET, "knox/").await;
    let replayed = markers
        .iter()
        .filter(|key| key.contains("/replayed/outage-3/"))
        .count();
    assert_eq!(replayed, 3, "{markers:?}");
}

/// The Source the Knox function publishes `event` under: its tenant's when it came for one.
fn knox_source(event: &serde_json::Value) -> &'static str {
    match event["detail"]["tenant"].is_string() {
        true => "hookwarden.knox.tenant",
        false => "hookwarden.knox",
    }
}
