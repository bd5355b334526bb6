//! `hookwarden serve` as a child process, driven over real HTTP: samples sent with
//! `hookwarden send` are stored exactly once, forgeries and bad requests store nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use hookwarden_pipeline::local::files_under;

use crate::support::{self, assert_exit, events_dir, hookwarden, start_serve, stdout};

/// A running `hookwarden serve`, killed on drop.
struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Server {
    /// Starts `hookwarden serve --port 0 --data DATA EXTRA…` and reads the port from its
    /// start line.
    fn start(data: &Path, extra: &[&str]) -> Self {
        let (child, port, line) = start_serve(data, extra, Stdio::null());
        assert_ne!(port, 0);
        let data = std::path::absolute(data).unwrap();
        assert!(
            line.trim_end().ends_with(&format!(
                "(knox, scalefusion, oneaccess); events under {}",
                data.display()
            )),
            "start line: {line:?}"
        );
        Self { child, port, data }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stored event objects for `provider`: everything under its directory except the
    /// dedupe state and the quarantine.
    fn stored(&self, provider: &str) -> Vec<PathBuf> {
        files_under(&self.data.join(provider))
            .into_iter()
            .filter(|p| {
                !p.components()
                    .any(|c| c.as_os_str() == "_state" || c.as_os_str() == "_quarantine")
            })
            .collect()
    }

    fn bus_events(&self) -> usize {
        files_under(&self.data.join("eventbridge")).len()
    }

    fn send(&self, provider: &str, sample: &str, extra: &[&str]) -> std::process::Output {
        let sample = events_dir().join(sample);
        let mut args = vec!["send", provider, sample.to_str().unwrap()];
        let to = self.url(&format!("/{provider}"));
        args.extend_from_slice(&["--to", &to]);
        args.extend_from_slice(extra);
        hookwarden(&args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP status lines `send` printed.
fn statuses(output: &std::process::Output) -> Vec<u16> {
    stdout(output)
        .lines()
        .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
        .map(|rest| rest[..3].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_pipeline_over_http() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let index = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let index: serde_json::Value = index.json().await.unwrap();
    let paths: Vec<&str> = index["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/knox", "/scalefusion", "/oneaccess"]);
    assert_eq!(index["data_dir"], server.data.to_str().unwrap());

    // Each sample, delivered twice as a provider retry would: one stored object, one bus event.
    let samples = [
        ("knox", "knox/KAI_BATTERY_STATUS.json", 1),
        ("knox", "knox/KG_DEVICE_LOCKED.base64.json", 2),
        ("scalefusion", "scalefusion/device.enrolled.json", 1),
        ("oneaccess", "oneaccess/plain/CREATE_ORGANIZATION.json", 1),
        (
            "oneaccess",
            "oneaccess/encrypted/CREATE_USER.base64.json",
            2,
        ),
    ];
    for (n, (provider, sample, expected)) in samples.into_iter().enumerate() {
        let sent = server.send(provider, sample, &["--times", "2"]);
        assert_exit(&sent, 0);
        assert_eq!(statuses(&sent), [200, 200], "{sample}: {}", stdout(&sent));
        assert_eq!(
            server.stored(provider).len(),
            expected,
            "{sample}: {:?}",
            server.stored(provider)
        );
        assert_eq!(server.bus_events(), n + 1, "{sample}");
    }
    // A separate send of the same Scalefusion body (its id is signed) is a duplicate too.
    let again = server.send(
        "scalefusion",
        "scalefusion/device.enrolled.base64.json",
        &[],
    );
    assert_exit(&again, 0);
    assert!(stdout(&again).contains("duplicate"), "{}", stdout(&again));
    assert_eq!(server.stored("scalefusion").len(), 1);

    // The stored envelope holds the body verbatim and says what verified it.
    let stored = &server.stored("knox")[0];
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stored).unwrap()).unwrap();
    assert_eq!(envelope["provider"], "knox");
    assert_eq!(envelope["source_ip"], "127.0.0.1");
    assert_eq!(envelope["verified_by"]["kind"], "certificate");

    // OneAccess's handshake answers without storing.
    let handshake = server.send("oneaccess", "oneaccess/encrypted/CHECK_URL.json", &[]);
    assert_exit(&handshake, 0);
    assert_eq!(server.stored("oneaccess").len(), 2);

    // Forgeries: signed with keys the server does not hold.
    let before = (
        server.stored("knox").len(),
        server.stored("scalefusion").len(),
        server.stored("oneaccess").len(),
    );
    let keys = tempfile::tempdir().unwrap();
    assert_exit(
        &hookwarden(["keys", "knox", "--out", keys.path().to_str().unwrap()]),
        0,
    );
    let other_key = keys.path().join("knox-test-key.pem");
    let forged = server.send(
        "knox",
        "knox/KAI_APP_ANR_FC.json",
        &["--key", other_key.to_str().unwrap()],
    );
    assert_exit(&forged, 1);
    assert_eq!(statuses(&forged), [401]);
    let forged = server.send(
        "scalefusion",
        "scalefusion/device.lost.json",
        &["--secret", "not-the-secret"],
    );
    assert_exit(&forged, 1);
    assert_eq!(statuses(&forged), [406]);
    let wrong_key = keys.path().join("oneaccess.json");
    let plain: serde_json::Value = serde_json::from_slice(
        &std::fs::read(support::test_keys_dir().join("oneaccess-plain.json")).unwrap(),
    )
    .unwrap();
    let secret = serde_json::json!({"bearer_token": plain["bearer_token"], "signature_key": "not-the-signature-key"});
    std::fs::write(&wrong_key, secret.to_string()).unwrap();
    let forged = server.send(
        "oneaccess",
        "oneaccess/plain/DELETE_USER.json",
        &["--oneaccess-secret", wrong_key.to_str().unwrap()],
    );
    assert_exit(&forged, 1);
    assert_eq!(statuses(&forged), [401]);
    let after = (
        server.stored("knox").len(),
        server.stored("scalefusion").len(),
        server.stored("oneaccess").len(),
    );
    assert_eq!(before, after, "a forgery stored something");
    assert_eq!(server.bus_events(), 5);

    // One byte over the 1 MiB cap.
    let oversize = http
        .post(server.url("/scalefusion"))
        .body(vec![b'a'; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(oversize.status(), 413);
    // Exactly the cap gets past the size check (and fails on the missing signature instead).
    let at_cap = http
        .post(server.url("/scalefusion"))
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(at_cap.status(), 406);

    for (method, path) in [
        ("GET", "/knox"),
        ("PUT", "/scalefusion"),
        ("DELETE", "/oneaccess"),
        ("POST", "/"),
    ] {
        let response = http
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
    }
    assert_eq!(
        http.post(server.url("/nonesuch"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let after = (
        server.stored("knox").len(),
        server.stored("scalefusion").len(),
        server.stored("oneaccess").len(),
    );
    assert_eq!(before, after);
}

#[test]
fn send_exit_codes() {
    // Nothing listens on the discard port on loopback: a transport failure is exit 2.
    let sample = events_dir().join("scalefusion/device.reboot.json");
    let sent = hookwarden([
        "send",
        "scalefusion",
        sample.to_str().unwrap(),
        "--to",
        "http://127.0.0.1:9/scalefusion",
    ]);
    assert_exit(&sent, 2);
    let sent = hookwarden([
        "send",
        "scalefusion",
        "/nonexistent.json",
        "--to",
        "http://127.0.0.1:9/scalefusion",
    ]);
    assert_exit(&sent, 2);
}

#[test]
fn config_file_replaces_the_embedded_keys() {
    let data = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        config_dir.path().join("sf.json"),
        r#"{"secret_key": "configured-secret"}"#,
    )
    .unwrap();
    let config = config_dir.path().join("serve.json");
    std::fs::write(
        &config,
        r#"{"scalefusion_secret": "sf.json", "max_body_bytes": 4096}"#,
    )
    .unwrap();

    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);

    // The embedded test secret no longer verifies; the configured one does.
    let sample = "scalefusion/device.reboot.json";
    assert_exit(&server.send("scalefusion", sample, &[]), 1);
    assert_exit(
        &server.send("scalefusion", sample, &["--secret", "configured-secret"]),
        0,
    );
    assert_eq!(server.stored("scalefusion").len(), 1);
    // The other providers keep their embedded keys; the body cap is the configured one.
    assert_exit(
        &server.send("knox", "knox/KAI_BATTERY_LEVEL_TRIGGERED.json", &[]),
        0,
    );
    let big = tempfile::tempdir().unwrap();
    let body = format!(
        r#"{{"id":"x","event":"device.reboot","pad":"{}"}}"#,
        "a".repeat(5000)
    );
    let event = serde_json::json!({
        "version": "2.0", "headers": {}, "body": body, "isBase64Encoded": false,
        "requestContext": {"http": {"method": "POST"}},
    });
    let event_path = big.path().join("big.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let to = server.url("/scalefusion");
    let sent = hookwarden([
        "send",
        "scalefusion",
        event_path.to_str().unwrap(),
        "--to",
        &to,
        "--secret",
        "configured-secret",
    ]);
    assert_exit(&sent, 1);
    assert_eq!(statuses(&sent), [413]);
}

#[test]
fn a_bad_config_file_stops_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let cases = [
        (
            "typo.json",
            r#"{"scalefusion_secrte": "sf.json"}"#.to_string(),
        ),
        (
            "missing.json",
            r#"{"knox_certificate": "nonesuch.pem"}"#.to_string(),
        ),
        (
            "previous-only.json",
            r#"{"oneaccess_previous_secret": "oa.json"}"#.to_string(),
        ),
        (
            "not-a-cert.json",
            r#"{"knox_certificate": "not-a-cert.json"}"#.to_string(),
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let output = hookwarden([
            "serve",
            "--port",
            "0",
            "--data",
            data,
            "--config",
            path.to_str().unwrap(),
        ]);
        assert_exit(&output, 2);
    }
}

/// R2 end to end: with no Knox subscription listed, `serve` keeps authentic callbacks under
/// `knox/_quarantine/` (one file per signed content) and delivers nothing; once the
/// subscription is listed, `hookwarden admit` re-sends them, the receiver verifies them again
/// and stores and publishes each once, however often it is admitted; an unlisted one stays
/// refused.
#[test]
fn quarantined_knox_callbacks_are_admitted_once_their_subscription_is_listed() {
    let data = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = |name: &str, ids: &[&str]| {
        let path = config_dir.path().join(name);
        let text = serde_json::json!({ "knox_subscription_ids": ids }).to_string();
        std::fs::write(&path, text).unwrap();
        path
    };
    let onboarding = config("onboarding.json", &[]);
    let listed = config("listed.json", &["123456789126"]);
    let quarantine = data.path().join("knox").join("_quarantine");

    let server = Server::start(data.path(), &["--config", onboarding.to_str().unwrap()]);
    let retried = server.send("knox", "knox/KAI_BATTERY_STATUS.json", &["--times", "2"]);
    assert_exit(&retried, 0);
    assert_eq!(stdout(&retried).matches("\"quarantined\"").count(), 2);
    assert_exit(&server.send("knox", "knox/KG_DEVICE_LOCKED.json", &[]), 0);
    assert!(
        server.stored("knox").is_empty(),
        "{:?}",
        server.stored("knox")
    );
    assert_eq!(server.bus_events(), 0);
    assert_eq!(
        files_under(&quarantine).len(),
        2,
        "one file per signed content"
    );
    let url = server.url("/knox");
    // Still unlisted: the receiver quarantines it again, so nothing is admitted.
    let early = hookwarden(["admit", "--to", &url, quarantine.to_str().unwrap()]);
    assert_exit(&early, 1);
    drop(server);

    let server = Server::start(data.path(), &["--config", listed.to_str().unwrap()]);
    let url = server.url("/knox");
    for round in 0..2 {
        let admit = hookwarden(["admit", "--to", &url, quarantine.to_str().unwrap()]);
        // KG_DEVICE_LOCKED's subscription (123456789146) is not listed: refused, kept.
        assert_exit(&admit, 1);
        let out = stdout(&admit);
        let expected = if round == 0 {
            " stored "
        } else {
            " duplicate "
        };
        assert_eq!(out.matches(expected).count(), 1, "{out}");
        assert_eq!(
            out.matches("not admitted (answered 403").count(),
            1,
            "{out}"
        );
        assert_eq!(server.stored("knox").len(), 1, "stored once");
        assert_eq!(server.bus_events(), 1, "published once");
    }
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&server.stored("knox")[0]).unwrap()).unwrap();
    assert_eq!(envelope["event_type"], "KAI_BATTERY_STATUS");

    // --remove deletes what was admitted and keeps the refused one.
    let admit = hookwarden([
        "admit",
        "--remove",
        "--to",
        &url,
        quarantine.to_str().unwrap(),
    ]);
    assert_exit(&admit, 1);
    assert_eq!(files_under(&quarantine).len(), 1);
    assert_eq!(server.stored("knox").len(), 1);
}
