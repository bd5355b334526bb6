//! `hookwarden streams` over a history built with `hookwarden serve` and `send`, judged at
//! chosen moments (`--now`, the injected clock): stream by stream — providers, tenants and
//! event types — which are silent. The same history uploaded to a moto bucket reads the same.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};

use hookwarden_pipeline::local::files_under;
use hookwarden_testkit::moto::MotoServer;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::{
    assert_exit, events_dir, hookwarden, hookwarden_with_env, start_serve, stdout,
};

const RULES: [&str; 6] = [
    "--cadence",
    "knox/*/KAI_BATTERY_STATUS=4h,knox/*/KAI_APP_ANR_FC=2h",
    "--cadence",
    "scalefusion/*/*=1d",
    "--cadence",
    "knox/*/KG_DEVICE_LOCKED=off",
];

/// Sends `sample` (relative to `events/`) to the server on `port`; the HTTP status.
fn send(port: u16, provider: &str, sample: &str, tenant: Option<&str>, extra: &[&str]) -> u16 {
    let to = format!("http://127.0.0.1:{port}/{provider}");
    let sample = events_dir().join(sample);
    let mut args = vec!["send", provider, sample.to_str().unwrap(), "--to", &to];
    if let Some(tenant) = tenant {
        args.extend(["--tenant", tenant]);
    }
    args.extend_from_slice(extra);
    let out = stdout(&hookwarden(&args));
    out.lines()
        .find_map(|line| line.strip_prefix("HTTP/1.1 "))
        .unwrap_or_else(|| panic!("no status in {out:?}"))[..3]
        .parse()
        .unwrap()
}

/// Builds the history: default-path Knox battery and ANR reports (one twice), a Scalefusion
/// event on the bare path and one for tenant `acme`, whose tenant file expects
/// `device.locked` hourly. Returns when the last event was sent.
fn history(data: &Path) -> OffsetDateTime {
    let tenants = data.join("tenants").join("scalefusion");
    std::fs::create_dir_all(&tenants).unwrap();
    let secret = events_dir().join("tenants/secrets/scalefusion/acme.json");
    let mut acme: serde_json::Value =
        serde_json::from_slice(&std::fs::read(secret).unwrap()).unwrap();
    let key = format!("--secret={}", acme["secret_key"].as_str().unwrap());
    acme["silence"] = serde_json::json!({ "device.locked": "1h" });
    std::fs::write(tenants.join("acme.json"), acme.to_string()).unwrap();

    let (mut child, port, _) = start_serve(data, &[], Stdio::null());
    let sent = [
        send(port, "knox", "knox/KAI_BATTERY_STATUS.json", None, &[]),
        send(
            port,
            "knox",
            "knox/KAI_BATTERY_STATUS.base64.json",
            None,
            &[],
        ),
        send(port, "knox", "knox/KAI_APP_ANR_FC.json", None, &[]),
        send(port, "knox", "knox/KG_DEVICE_LOCKED.json", None, &[]),
        send(
            port,
            "scalefusion",
            "scalefusion/device.locked.json",
            None,
            &[],
        ),
        send(
            port,
            "scalefusion",
            "tenants/scalefusion/acme/device.locked.json",
            Some("acme"),
            &[&key],
        ),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(sent, [200; 6]);
    OffsetDateTime::now_utc()
}

/// Each stream's status, by `provider/tenant/event type`, read from the printed table.
fn statuses(output: &Output) -> BTreeMap<String, String> {
    let out = stdout(output);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("PROVIDER"), "{out}");
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let stream = format!("{}/{}/{}", cells[0], cells[1], cells[2]);
            (stream, cells[cells.len() - 1].to_string())
        })
        .collect()
}

/// Three hours after the history: past the tenant's own hour and the ANR check's two.
const AFTER_THREE_HOURS: [(&str, &str); 5] = [
    ("knox/(default)/KAI_APP_ANR_FC", "SILENT"),
    ("knox/(default)/KAI_BATTERY_STATUS", "live"),
    ("knox/(default)/KG_DEVICE_LOCKED", "unwatched"),
    ("scalefusion/(default)/device.locked", "live"),
    ("scalefusion/acme/device.locked", "SILENT"),
];

fn at(t: OffsetDateTime) -> String {
    format!("--now={}", t.format(&Rfc3339).unwrap())
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .collect()
}

#[test]
fn local_streams_fall_silent_as_the_clock_moves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let t0 = history(dir.path());
    let streams = |now: OffsetDateTime, extra: &[&str]| {
        let mut args = vec!["streams".to_string(), format!("--data={data}"), at(now)];
        args.extend(RULES.iter().chain(extra).map(|s| s.to_string()));
        hookwarden(&args)
    };

    let soon = streams(t0 + Duration::minutes(30), &[]);
    assert_exit(&soon, 0);
    assert_eq!(
        statuses(&soon),
        expect(&[
            ("knox/(default)/KAI_APP_ANR_FC", "live"),
            ("knox/(default)/KAI_BATTERY_STATUS", "live"),
            ("knox/(default)/KG_DEVICE_LOCKED", "unwatched"),
            ("scalefusion/(default)/device.locked", "live"),
            ("scalefusion/acme/device.locked", "live"),
        ])
    );

    // Past the tenant's own hour and the ANR check's two: those two, and only those.
    let three_hours = streams(t0 + Duration::hours(3), &[]);
    assert_exit(&three_hours, 1);
    assert!(String::from_utf8_lossy(&three_hours.stderr).contains("2 of 5 streams silent"));
    assert_eq!(statuses(&three_hours), expect(&AFTER_THREE_HOURS));

    // A day and more: everything watched is silent; a later, more specific rule turns one off.
    let two_days = streams(
        t0 + Duration::hours(49),
        &["--cadence", "scalefusion/(default)/*=off"],
    );
    assert_exit(&two_days, 1);
    assert_eq!(
        statuses(&two_days),
        expect(&[
            ("knox/(default)/KAI_APP_ANR_FC", "SILENT"),
            ("knox/(default)/KAI_BATTERY_STATUS", "SILENT"),
            ("knox/(default)/KG_DEVICE_LOCKED", "unwatched"),
            ("scalefusion/(default)/device.locked", "unwatched"),
            ("scalefusion/acme/device.locked", "SILENT"),
        ])
    );

    // --since bounds what is read: nothing stored in the day before a week later.
    let bounded = streams(t0 + Duration::days(7), &["--since=1d"]);
    assert_exit(&bounded, 0);
    assert!(statuses(&bounded).is_empty());

    let bad = streams(t0, &["--cadence", "knox/KAI_BATTERY_STATUS=4h"]);
    assert_exit(&bad, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_streams_read_as_local_ones() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = history(dir.path());
    let moto = MotoServer::start();
    moto.create_bucket("events").await;
    // The envelopes as the functions store them: `<provider>/[tenant=<t>/]<shard>/<id>.json`,
    // with dedupe state beside them that must not be read as events.
    for provider in ["knox", "scalefusion"] {
        for path in files_under(&dir.path().join(provider)) {
            let bytes = std::fs::read(&path).unwrap();
            let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let Some(id) = envelope["id"].as_str() else {
                continue;
            };
            let tenant = envelope["tenant"]
                .as_str()
                .map(|t| format!("tenant={t}/"))
                .unwrap_or_default();
            let key = format!("{provider}/{tenant}{}/{id}.json", &id[..2]);
            moto.put_object("events", &key, bytes).await;
            moto.put_object(
                "events",
                &format!("{provider}/_state/{id}"),
                b"claimed".to_vec(),
            )
            .await;
        }
    }
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    let streams = |now: OffsetDateTime, extra: &[&str]| {
        let mut args = vec![
            "streams".to_string(),
            "--bucket=events".to_string(),
            at(now),
        ];
        args.extend(RULES.iter().chain(extra).map(|s| s.to_string()));
        hookwarden_with_env(&args, &env)
    };
    // The tenant file's hourly rule is not in the bucket: given as a rule here.
    let three_hours = streams(
        t0 + Duration::hours(3),
        &["--cadence", "scalefusion/acme/device.locked=1h"],
    );
    assert_exit(&three_hours, 1);
    assert_eq!(statuses(&three_hours), expect(&AFTER_THREE_HOURS));
    let one_provider = streams(t0, &["--prefix=scalefusion"]);
    assert_exit(&one_provider, 0);
    assert_eq!(statuses(&one_provider).len(), 2);

    let missing = hookwarden_with_env(["streams", "--bucket=no-such-bucket"], &env);
    assert_exit(&missing, 2);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("s3://no-such-bucket/knox/"));
}
