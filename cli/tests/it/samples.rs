//! The sample events under `events/`: function URL events (payload format 2.0) in text and
//! base64 form, covering every documented event, whose bodies verify with the test keys, and
//! which `hookwarden events regenerate` reproduces.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::x509::KnoxCertificate;
use hookwarden_verify::{knox, scalefusion};
use serde_json::Value;

use crate::support::{assert_exit, events_dir, hookwarden, test_keys_dir};

/// protocols.md §1.5: every Knox event name found in Samsung's release notes and tutorials.
const KNOX_EVENTS: [&str; 25] = [
    "KAI_APP_ANR_FC",
    "KAI_WIFI_DISCONNECTIONS",
    "KAI_WIFI_CONNECTIONS",
    "KAI_BATTERY_STATUS",
    "KAI_DEVICE_DIAGNOSTICSLOGS",
    "KAI_APP_USAGE_TIME_BATTERY",
    "KAI_APP_USAGE_NETWORK",
    "KAI_APP_USAGE_SCREENTIME",
    "KAI_BATTERY_CHARGING",
    "KAI_BATTERY_LEVEL_SHIFT_START",
    "KAI_BATTERY_LEVEL_SHIFT_END",
    "KAI_BATTERY_LEVEL_TRIGGERED",
    "KDMS_DEVICE_UPLOAD",
    "KDMS_DEVICE_DELETE",
    "KC_DEVICE_STATUS_CHANGE",
    "KE_DEVICE_BULK_CREATE",
    "KE_DEVICE_BULK_REFRESH",
    "KE_DEVICE_BULK_DELETE",
    "KE_CAMPAIGN_DELETE",
    "KE_DEVICE_STATUS_CHANGE",
    "KE_DEVICE_BULK_LICENSE_UNENROLL",
    "KG_DEVICE_ENROLLED",
    "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED",
    "KG_DEVICE_LOCKED",
    "KG_DEVICE_UNLOCKED",
];

const SAMPLE_DIRS: [&str; 4] = [
    "knox",
    "scalefusion",
    "oneaccess/plain",
    "oneaccess/encrypted",
];

struct Keys {
    knox: KnoxCertificate,
    scalefusion: String,
    oneaccess_plain: Config,
    oneaccess_encrypted: Config,
}

fn keys(dir: &Path) -> Keys {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let scalefusion: Value = serde_json::from_str(&read("scalefusion-secret.json")).unwrap();
    Keys {
        knox: KnoxCertificate::parse(read("knox-test-cert.pem").as_bytes()).unwrap(),
        scalefusion: scalefusion["secret_key"].as_str().unwrap().to_string(),
        oneaccess_plain: Config::from_secret_json(&read("oneaccess-plain.json")).unwrap(),
        oneaccess_encrypted: Config::from_secret_json(&read("oneaccess-encrypted.json")).unwrap(),
    }
}

/// The sample files of one directory, by file name.
fn samples(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// Checks the function URL 2.0 shape and returns (event, body bytes).
fn read_event(path: &Path) -> (Value, Vec<u8>) {
    let text = std::fs::read_to_string(path).unwrap();
    let event: Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    // The same type the Lambda entrypoint deserializes.
    let typed: ApiGatewayV2httpRequest = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{}: not an API Gateway v2 event: {err}", path.display()));
    assert_eq!(typed.request_context.http.method, http::Method::POST);
    let name = path.display();
    assert_eq!(event["version"], "2.0", "{name}");
    assert_eq!(event["routeKey"], "$default", "{name}");
    assert_eq!(event["rawPath"], "/", "{name}");
    assert_eq!(event["rawQueryString"], "", "{name}");
    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "anonymous", "{name}");
    assert_eq!(context["stage"], "$default", "{name}");
    assert_eq!(context["routeKey"], "$default", "{name}");
    assert_eq!(context["http"]["path"], "/", "{name}");
    assert_eq!(context["http"]["protocol"], "HTTP/1.1", "{name}");
    assert!(
        context["timeEpoch"].is_i64()
            && context["time"].is_string()
            && context["requestId"].is_string(),
        "{name}"
    );
    let url_id = context["apiId"].as_str().unwrap();
    assert_eq!(url_id.len(), 32, "{name}");
    assert_eq!(context["domainPrefix"], url_id, "{name}");
    let domain = format!("{url_id}.lambda-url.us-east-1.on.aws");
    assert_eq!(context["domainName"], domain.as_str(), "{name}");
    let headers = event["headers"].as_object().unwrap();
    assert!(
        headers.keys().all(|k| *k == k.to_ascii_lowercase()),
        "{name}: header names are lowercase"
    );
    assert_eq!(headers["host"], domain.as_str(), "{name}");
    assert_eq!(
        headers["x-forwarded-for"], context["http"]["sourceIp"],
        "{name}"
    );
    assert_eq!(
        headers["user-agent"], context["http"]["userAgent"],
        "{name}"
    );
    for header in ["x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"] {
        assert!(headers.contains_key(header), "{name}: no {header}");
    }
    let body = event["body"].as_str().unwrap();
    let base64 = path.to_str().unwrap().ends_with(".base64.json");
    assert_eq!(event["isBase64Encoded"], base64, "{name}");
    let body = if base64 {
        assert!(
            !headers.contains_key("content-type"),
            "{name}: a base64 body means no text content-type"
        );
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        assert_eq!(headers["content-type"], "application/json", "{name}");
        body.as_bytes().to_vec()
    };
    (event, body)
}

fn header<'a>(event: &'a Value, name: &str) -> &'a str {
    event["headers"][name.to_ascii_lowercase()]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Verifies one sample with the test keys; `oneaccess_now` maps the sample's own timestamp to
/// the `now` to verify at (so the replay window can be held open or checked).
fn verify_sample(dir: &str, path: &Path, keys: &Keys, oneaccess_now: impl Fn(i64) -> (i64, u64)) {
    let (event, body) = read_event(path);
    let stem = path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".json")
        .trim_end_matches(".base64");
    let name = path.display();
    match dir {
        "knox" => {
            let now = time_now();
            let verified = knox::verify(
                &body,
                header(&event, knox::SIGNATURE_HEADER),
                std::slice::from_ref(&keys.knox),
                now,
            )
            .unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(verified.event.as_deref(), Some(stem), "{name}");
            for id in [knox::TRACE_ID_HEADER, knox::NONCE_HEADER] {
                assert!(!header(&event, id).is_empty(), "{name}");
            }
        }
        "scalefusion" => {
            scalefusion::verify(
                &body,
                header(&event, scalefusion::SIGNATURE_HEADER),
                &[keys.scalefusion.as_bytes()],
            )
            .unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(
                scalefusion::event_type(&body).as_deref(),
                Some(stem),
                "{name}"
            );
        }
        _ => {
            let callback: Value = serde_json::from_slice(&body).unwrap();
            let (now, window) = oneaccess_now(callback["timestamp"].as_i64().unwrap());
            let config = match dir {
                "oneaccess/plain" => &keys.oneaccess_plain,
                _ => &keys.oneaccess_encrypted,
            };
            let verified = oneaccess::verify(
                &body,
                Some(header(&event, "authorization")),
                std::slice::from_ref(config),
                now,
                window,
            )
            .unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(verified.event_type, stem, "{name}");
            if dir == "oneaccess/plain" {
                assert_eq!(
                    callback["data"].as_str(),
                    Some(verified.msg.as_str()),
                    "{name}: plain data is the message"
                );
            } else {
                assert_ne!(
                    callback["data"].as_str(),
                    Some(verified.msg.as_str()),
                    "{name}: encrypted data"
                );
            }
            if stem != "CHECK_URL" {
                let _: serde_json::Map<String, Value> =
                    serde_json::from_str(&verified.msg).unwrap();
            }
        }
    }
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn now_ms() -> i64 {
    time_now() * 1000
}

#[test]
fn every_sample_is_a_function_url_event_that_verifies() {
    let keys = keys(&test_keys_dir());
    let mut count = 0;
    for dir in SAMPLE_DIRS {
        for path in samples(&events_dir().join(dir)) {
            // The committed OneAccess samples are old: verify at their own time.
            verify_sample(dir, &path, &keys, |timestamp| (timestamp, 0));
            count += 1;
        }
    }
    assert_eq!(
        count,
        2 * (KNOX_EVENTS.len() + scalefusion::EVENTS.len() + 2 * oneaccess::EVENT_TYPES.len())
    );
}

#[test]
fn every_documented_event_has_a_sample_in_both_forms() {
    let expected: [(&str, Vec<&str>); 4] = [
        ("knox", KNOX_EVENTS.to_vec()),
        ("scalefusion", scalefusion::EVENTS.to_vec()),
        ("oneaccess/plain", oneaccess::EVENT_TYPES.to_vec()),
        ("oneaccess/encrypted", oneaccess::EVENT_TYPES.to_vec()),
    ];
    for (dir, events) in expected {
        let found: BTreeSet<String> = samples(&events_dir().join(dir))
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        let wanted: BTreeSet<String> = events
            .iter()
            .flat_map(|event| [format!("{event}.json"), format!("{event}.base64.json")])
            .collect();
        assert_eq!(found, wanted, "{dir}");
        // Both forms carry the same body.
        for event in events {
            let (_, text) = read_event(&events_dir().join(dir).join(format!("{event}.json")));
            let (_, base64) =
                read_event(&events_dir().join(dir).join(format!("{event}.base64.json")));
            assert_eq!(text, base64, "{dir}/{event}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A sample with its body removed: what stays fixed for an encrypted OneAccess sample.
fn without_body(path: &Path) -> Value {
    let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    event["body"] = Value::Null;
    event
}

#[test]
fn regenerate_reproduces_the_committed_samples() {
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("events");
    copy_dir(&events_dir().join("bodies"), &dir.join("bodies"));
    copy_dir(&events_dir().join("test-keys"), &dir.join("test-keys"));
    // A sample whose body is gone is removed.
    std::fs::create_dir_all(dir.join("knox")).unwrap();
    std::fs::write(dir.join("knox/KAI_RETIRED.json"), "{}").unwrap();
    assert_exit(
        &hookwarden(["events", "regenerate", "--dir", dir.to_str().unwrap()]),
        0,
    );
    assert!(!dir.join("knox/KAI_RETIRED.json").exists());

    for sub in SAMPLE_DIRS {
        let committed = samples(&events_dir().join(sub));
        let regenerated = samples(&dir.join(sub));
        let names = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.file_name().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&committed), names(&regenerated), "{sub}");
        for (committed, regenerated) in committed.iter().zip(&regenerated) {
            if sub == "oneaccess/encrypted" {
                // AES-GCM draws a fresh IV: everything but the body is reproducible.
                assert_eq!(
                    without_body(committed),
                    without_body(regenerated),
                    "{}",
                    committed.display()
                );
            } else {
                assert_eq!(
                    std::fs::read(committed).unwrap(),
                    std::fs::read(regenerated).unwrap(),
                    "{} is not what `hookwarden events regenerate` writes; run it",
                    committed.display()
                );
            }
        }
    }

    // --fresh: OneAccess samples pass the default replay window now.
    assert_exit(
        &hookwarden([
            "events",
            "regenerate",
            "--fresh",
            "--dir",
            dir.to_str().unwrap(),
        ]),
        0,
    );
    let keys = keys(&dir.join("test-keys"));
    for sub in ["oneaccess/plain", "oneaccess/encrypted"] {
        for path in samples(&dir.join(sub)) {
            verify_sample(sub, &path, &keys, |_| {
                (now_ms(), oneaccess::DEFAULT_REPLAY_WINDOW_SECS)
            });
        }
    }
}
