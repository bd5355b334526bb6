//! A fleet's burst against scaled-down AWS quotas, run as Lambda runs `knox-webhook` (many
//! function processes polling a Runtime API on loopback) against moto behind a proxy that
//! enforces the quotas S3 and EventBridge enforce, divided by [`SCALE`]:
//! - S3: 3,500 PUT/s per partitioned prefix (AWS's documented figure) → 35 PUT/s per
//!   partition, answered `503 SlowDown` above it;
//! - EventBridge PutEvents: 10,000 requests/s (the largest regions) → 100/s, answered
//!   `ThrottlingException` above it.
//!
//! The same burst — one event type, as a fleet-wide KAI report or a bulk operation sends —
//! runs against two partition maps of the same bucket: the unsharded layout
//! (`knox/{event type}/{date}/…`, so the burst shares one partition, and the publish markers
//! another), and the sharded layout (`knox/{shard}/{id}.json`, the id's first two hex digits
//! leading, so the burst spreads over 256 key ranges S3 can split apart). The
//! proxy maps each PUT the function sends to the partition the layout puts it in. S3 is
//! assumed to have partitioned the sharded keyspace at the shard (what it does under
//! sustained load; for a known burst on a new bucket, ask AWS to pre-partition).
//!
//! Senders retry a non-2xx a bounded number of times with backoff, as a provider might
//! (retry behaviour is undocumented: a refused burst may not come back). Printed per layout:
//! events stored, events refused for good, retries, throttled answers, time to drain.
//! Checked: every 2xx is durable, nothing is stored twice; the sharded layout absorbs the
//! burst (nothing refused) where today's layout turns it into 503s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookwarden_testkit::deployment::{event_id, event_keys, BUCKET, BUS};
use hookwarden_testkit::load::mix;
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::{self, Action, Proxy, Service};
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;
use serde_json::Value;

use crate::support::{BINARY, CERT_KEY, MACHINE};

/// The one event type of the burst.
const BURST_EVENT_TYPE: &str = "KAI_BATTERY_STATUS";

/// Real quota ÷ simulated quota.
const SCALE: u32 = 100;
const S3_PUTS_PER_PARTITION_PER_S: u32 = 3_500 / SCALE;
const PUT_EVENTS_PER_S: u32 = 10_000 / SCALE;
/// The burst: one event type, as fast as the processes take it.
const EVENTS: usize = 800;
const PROCESSES: usize = 12;
const IN_FLIGHT: usize = 24;
/// A sender's attempts per event, and its backoff between them (doubling, jittered).
const SENDER_ATTEMPTS: usize = 4;
const SENDER_BACKOFF: Duration = Duration::from_millis(200);
const DEPENDENCY_TIMEOUT_MS: &str = "600";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);
const TIME_LIMIT: Duration = Duration::from_secs(240);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `knox/{event type}/{yyyy}/{mm}/{dd}/{id}.json`, `knox/_state/{kind}/{id}`.
    Today,
    /// `knox/{shard}/{id}.json`, `knox/_state/{shard}/{kind}/{id}`.
    Sharded,
}

/// The partition a PUT's key falls in under `layout`, from the key the function writes (the
/// sharded one): `/{bucket}/knox/{shard}/{id}.json` or
/// `/{bucket}/knox/_state/{shard}/{kind}/{id}`. The burst is one event type, so under the
/// unsharded layout every envelope falls in that type's one partition.
fn partition(layout: Layout, path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (layout, segments.as_slice()) {
        (Layout::Today, [_, prefix, "_state", _, kind, _]) => format!("{prefix}/_state/{kind}"),
        (Layout::Today, [_, prefix, _, _]) => format!("{prefix}/{BURST_EVENT_TYPE}"),
        (Layout::Sharded, [_, prefix, "_state", shard, ..]) => format!("{prefix}/_state/{shard}"),
        (Layout::Sharded, [_, prefix, shard, ..]) => format!("{prefix}/{shard}"),
        _ => path.to_string(),
    }
}

/// Requests per one-second window, per partition: above the quota, the service's throttle.
#[derive(Default)]
struct Quotas {
    windows: HashMap<String, (u64, u32)>,
}

impl Quotas {
    fn admit(&mut self, partition: String, quota: u32, second: u64) -> bool {
        let window = self.windows.entry(partition).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 += 1;
        window.1 <= quota
    }
}

fn policy(layout: Layout, started: Instant) -> proxy::Policy {
    let quotas = Arc::new(Mutex::new(Quotas::default()));
    Arc::new(move |request: &proxy::Request| {
        let second = started.elapsed().as_secs();
        let mut quotas = quotas.lock().unwrap();
        match (request.service, request.operation.as_str()) {
            (Service::S3, "PUT") if request.path.contains("/knox/") => {
                let partition = partition(layout, &request.path);
                match quotas.admit(partition, S3_PUTS_PER_PARTITION_PER_S, second) {
                    true => Action::Forward,
                    false => Action::s3_slow_down(),
                }
            }
            (Service::EventBridge, "PutEvents") => {
                match quotas.admit("PutEvents".into(), PUT_EVENTS_PER_S, second) {
                    true => Action::Forward,
                    false => Action::eventbridge_throttled(),
                }
            }
            _ => Action::Forward,
        }
    })
}

fn knox_body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"{BURST_EVENT_TYPE}","payload":{{"imei":"35693803{n:07}","batteryLevel":{}}}}}"#,
        n % 100
    )
    .into_bytes()
}

struct Report {
    stored: usize,
    refused: usize,
    retries: usize,
    throttled_answers: usize,
    drain: Duration,
    /// Requests the proxy answered with a throttle, by `"s3 PUT"`-style label.
    proxy_throttles: BTreeMap<String, u64>,
}

async fn burst(layout: Layout, events: &[(usize, Value)]) -> Report {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.create_event_bus(BUS).await;
    moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    let started = Instant::now();
    let proxy = Proxy::with_policy(&moto.endpoint(), policy(layout, started)).await;
    let endpoint = proxy.url();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("HOOKWARDEN_SINK", "s3,eventbridge"),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_EVENT_BUS", BUS),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", DEPENDENCY_TIMEOUT_MS),
        ("KNOX_CERT_KEY", CERT_KEY),
        ("KNOX_SUBSCRIPTION_IDS", "123456789123"),
    ];
    let api = Arc::new(RuntimeApi::start().await);
    let processes: Vec<FunctionProcess> = (0..PROCESSES)
        .map(|_| api.spawn_function(BINARY, &env))
        .collect();

    let run = async {
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for (n, event) in events.iter().cloned() {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let api = api.clone();
            tasks.spawn(async move {
                let mut answers = Vec::new();
                for attempt in 0..SENDER_ATTEMPTS {
                    if attempt > 0 {
                        let ceiling = SENDER_BACKOFF * (1 << (attempt - 1));
                        let jitter =
                            (mix(n as u64 ^ ((attempt as u64) << 32)) % 1000) as f64 / 1000.0;
                        tokio::time::sleep(ceiling.mul_f64(0.5 + jitter / 2.0)).await;
                    }
                    let response = api.invoke(event.clone(), INVOKE_TIMEOUT).await.unwrap();
                    let status = response["statusCode"].as_u64().unwrap() as u16;
                    let body: Value =
                        serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                    answers.push((status, body));
                    if status == 200 {
                        break;
                    }
                }
                drop(permit);
                (n, answers)
            });
        }
        let mut all = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            all.push(joined.unwrap());
        }
        all
    };
    let outcomes = tokio::time::timeout(TIME_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("the {layout:?} burst took over {TIME_LIMIT:?}"));
    let drain = started.elapsed();

    let acknowledged: BTreeMap<usize, String> = outcomes
        .iter()
        .filter_map(|(n, answers)| {
            let (status, body) = answers.last()?;
            (*status == 200).then(|| (*n, body["id"].as_str().unwrap().to_string()))
        })
        .collect();
    let stored = event_keys(&moto, "knox").await;
    let stored_ids: BTreeSet<&str> = stored.iter().map(|k| event_id(k)).collect();
    assert_eq!(
        stored_ids.len(),
        stored.len(),
        "{layout:?}: an event stored twice"
    );
    for id in acknowledged.values() {
        assert!(
            stored_ids.contains(id.as_str()),
            "{layout:?}: {id} answered 200, not stored"
        );
    }
    let retries = outcomes.iter().map(|(_, a)| a.len() - 1).sum();
    let throttled_answers = outcomes
        .iter()
        .flat_map(|(_, a)| a.iter())
        .filter(|(status, _)| *status == 503)
        .count();
    let logs: String = processes.iter().map(|p| p.stdout()).collect();
    let throttled_lines = logs.matches("\"outcome\":\"throttled\"").count();
    assert_eq!(
        throttled_lines, throttled_answers,
        "{layout:?}: every 503 for a quota is logged as outcome throttled"
    );
    let metric_records = logs
        .lines()
        .filter(|line| line.contains("\"_aws\"") && line.contains("\"Throttled\":1"))
        .count();
    assert_eq!(
        metric_records, throttled_answers,
        "{layout:?}: and counted in the Hookwarden/Throttled metric"
    );
    Report {
        stored: stored.len(),
        refused: events.len() - acknowledged.len(),
        retries,
        throttled_answers,
        drain,
        proxy_throttles: proxy.answered(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_event_type_against_scaled_quotas() {
    let _machine = MACHINE.write().await;
    let key = RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap();
    let template = &samples("knox")[0].1;
    let events: Vec<(usize, Value)> = (0..EVENTS)
        .map(|n| {
            let body = knox_body(n);
            let signature = knox::sign(&body, &key).unwrap();
            let trace = format!("burst-{n}");
            (
                n,
                with_request(
                    template,
                    &body,
                    &[("x-wsm-signature", &signature), ("x-wsm-traceid", &trace)],
                    false,
                ),
            )
        })
        .collect();
    let mut reports = Vec::new();
    for layout in [Layout::Today, Layout::Sharded] {
        let report = burst(layout, &events).await;
        println!(
            "scale ÷{SCALE} (S3 {S3_PUTS_PER_PARTITION_PER_S} PUT/s per partition, PutEvents \
             {PUT_EVENTS_PER_S}/s), {EVENTS} KAI_BATTERY_STATUS events, {PROCESSES} \
             processes, {SENDER_ATTEMPTS} attempts per sender — {layout:?} layout: {} stored, \
             {} refused for good, {} retries, {} answers 503 throttled, requests throttled \
             at the endpoint {:?}, drained in {:.1?}",
            report.stored,
            report.refused,
            report.retries,
            report.throttled_answers,
            report.proxy_throttles,
            report.drain
        );
        reports.push(report);
    }
    let (today, sharded) = (&reports[0], &reports[1]);
    assert!(
        today.throttled_answers > 0,
        "today's layout was never throttled: the burst proved nothing"
    );
    assert_eq!(
        sharded.refused, 0,
        "the sharded layout refused events for good"
    );
    assert_eq!(sharded.stored, EVENTS);
    assert!(
        sharded.throttled_answers * 4 < today.throttled_answers.max(1),
        "the sharded layout should turn far fewer requests into 503s ({} against {})",
        sharded.throttled_answers,
        today.throttled_answers
    );
}
